#include "core/user_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace stratus {
namespace {

TEST(UserRateLimiter, BurstThenRatePerUser)
{
    user_rate_limiter limiter(10, 3); // 10/s, burst 3
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(limiter.acquire("alice", 1000), 0);
    }
    auto const wait = limiter.acquire("alice", 1000);
    EXPECT_GT(wait, 0);
    EXPECT_LE(wait, 101);
    EXPECT_EQ(limiter.acquire("bob", 1000), 0); // independent
    EXPECT_GT(limiter.acquire("alice", 1050), 0);
    EXPECT_EQ(limiter.acquire("alice", 1100), 0);
}

TEST(UserRateLimiter, ZeroRateDisablesIt)
{
    user_rate_limiter limiter(0, 1);
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(limiter.acquire("alice", 1), 0);
    }
    EXPECT_EQ(limiter.tracked(), 0U);
}

TEST(UserRateLimiter, MemoryIsBoundedByForgettingFullBuckets)
{
    user_rate_limiter limiter(100, 2, 10);
    for (int i = 0; i < 1000; ++i) {
        // Each user sends once; a second later every bucket is full again and forgettable.
        ASSERT_EQ(limiter.acquire("user" + std::to_string(i), 1000 * (i / 10 + 1)), 0);
    }
    EXPECT_LE(limiter.tracked(), 11U);
}

TEST(UserRateLimiter, ConcurrentCallersNeverExceedTheBurst)
{
    user_rate_limiter limiter(1, 100);
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                granted += limiter.acquire("alice", 5000) == 0 ? 1 : 0;
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(granted.load(), 100);
}

} // namespace
} // namespace stratus
