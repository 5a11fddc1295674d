// The gateway's Beast-free abuse controls: token bucket, connection caps, origin policy.
#include <gtest/gtest.h>

#include <vector>

#include "gateway/connection_limiter.hpp"
#include "gateway/origin_policy.hpp"
#include "gateway/token_bucket.hpp"

namespace stratus::gateway {
namespace {

TEST(TokenBucket, AllowsABurstThenTheRate)
{
    token_bucket bucket(10, 5); // 10/s, burst 5
    int taken = 0;
    for (int i = 0; i < 20; ++i) {
        taken += bucket.try_take(1000) ? 1 : 0;
    }
    EXPECT_EQ(taken, 5);
    EXPECT_GT(bucket.retry_after_ms(), 0);
    EXPECT_LE(bucket.retry_after_ms(), 101);
    EXPECT_FALSE(bucket.try_take(1050)); // half a token
    EXPECT_TRUE(bucket.try_take(1100));  // one token after 100 ms
    EXPECT_FALSE(bucket.try_take(1100));
    // Never more than the burst, however long the pause.
    taken = 0;
    for (int i = 0; i < 20; ++i) {
        taken += bucket.try_take(100000) ? 1 : 0;
    }
    EXPECT_EQ(taken, 5);
    // A clock that goes backwards refills nothing.
    EXPECT_FALSE(bucket.try_take(50000));
}

TEST(TokenBucket, RateZeroDisablesIt)
{
    token_bucket bucket(0, 1);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(bucket.try_take(1));
    }
    EXPECT_EQ(bucket.retry_after_ms(), 0);
}

TEST(ConnectionLimiter, CapsPerIpAndInTotalAndReleasesSlots)
{
    connection_limiter limiter(2, 3);
    std::vector<std::unique_ptr<connection_limiter::ticket>> held;
    held.push_back(limiter.try_acquire("10.0.0.1"));
    held.push_back(limiter.try_acquire("10.0.0.1"));
    EXPECT_EQ(limiter.try_acquire("10.0.0.1"), nullptr); // per-IP cap
    held.push_back(limiter.try_acquire("10.0.0.2"));
    EXPECT_EQ(limiter.try_acquire("10.0.0.3"), nullptr); // total cap
    EXPECT_EQ(limiter.open_total(), 3U);
    EXPECT_EQ(limiter.open_from("10.0.0.1"), 2U);
    EXPECT_EQ(limiter.refused(), 2U);
    held.erase(held.begin());
    EXPECT_EQ(limiter.open_from("10.0.0.1"), 1U);
    EXPECT_NE(limiter.try_acquire("10.0.0.3"), nullptr); // and released again at once
    held.clear();
    EXPECT_EQ(limiter.open_total(), 0U);
    EXPECT_EQ(limiter.open_from("10.0.0.2"), 0U);
}

TEST(ConnectionLimiter, ZeroMeansNoCap)
{
    connection_limiter limiter(0, 0);
    std::vector<std::unique_ptr<connection_limiter::ticket>> held;
    for (int i = 0; i < 5000; ++i) {
        held.push_back(limiter.try_acquire("127.0.0.1"));
        ASSERT_NE(held.back(), nullptr);
    }
}

TEST(OriginPolicy, SameOriginAndNoOriginAreAllowedOthersRefused)
{
    origin_policy policy;
    EXPECT_TRUE(policy.allows({}, false, "127.0.0.1:8080"));                     // CLI, SDK
    EXPECT_TRUE(policy.allows("http://127.0.0.1:8080", true, "127.0.0.1:8080")); // the served UI
    EXPECT_TRUE(policy.allows("HTTP://Chat.Example:8080/", true, "chat.example:8080"));
    EXPECT_FALSE(policy.allows("https://evil.example", true, "127.0.0.1:8080"));
    EXPECT_FALSE(policy.allows("http://127.0.0.1:8081", true, "127.0.0.1:8080")); // other port
    EXPECT_FALSE(policy.allows("http://127.0.0.1:8080.evil", true, "127.0.0.1:8080"));
    EXPECT_FALSE(policy.allows("null", true, "127.0.0.1:8080"));
    EXPECT_FALSE(policy.allows("", true, "127.0.0.1:8080"));
    EXPECT_FALSE(policy.allows("ws://127.0.0.1:8080", true, "127.0.0.1:8080"));
    EXPECT_FALSE(policy.allows("http://127.0.0.1:8080", true, ""));
}

TEST(OriginPolicy, TheListAndTheWildcard)
{
    origin_policy listed({"https://app.example.com/", "null"});
    EXPECT_TRUE(listed.allows("https://app.example.com", true, "api.example.com"));
    EXPECT_TRUE(listed.allows("null", true, "api.example.com"));
    EXPECT_FALSE(listed.allows("https://app.example.com.evil", true, "api.example.com"));
    EXPECT_FALSE(listed.allows("http://app.example.com", true, "api.example.com")); // scheme matters
    origin_policy any({"*"});
    EXPECT_TRUE(any.allows("https://anything.example", true, "x"));
}

} // namespace
} // namespace stratus::gateway
