#include "core/known_connections.hpp"

#include <string>

#include <gtest/gtest.h>

namespace stratus {
namespace {

connection_record record(std::string const& id, std::int64_t expires_at_s = 1000)
{
    connection_record r;
    r.connection_id = id;
    r.user.user_id = "u_" + id;
    r.user.name = "Name " + id;
    r.connected_at_ms = 1;
    r.expires_at_s = expires_at_s;
    r.endpoint = "https://example.com/local";
    return r;
}

TEST(KnownConnections, FindsWhatItRemembersUntilItExpires)
{
    known_connections known(8, 1000);
    EXPECT_FALSE(known.find("a", 0));
    known.remember(record("a", 100), 0);
    auto const found = known.find("a", 99);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->user.user_id, "u_a");
    EXPECT_EQ(found->user.name, "Name a");
    EXPECT_EQ(found->endpoint, "https://example.com/local");
    // The store's rule: a record is absent from its expiry second on.
    EXPECT_FALSE(known.find("a", 100));
    EXPECT_FALSE(known.find("b", 0));
}

TEST(KnownConnections, TrustsAnEntryForMaxAgeThenNoLonger)
{
    known_connections known(8, 60);
    known.remember(record("a", 10000), 100);
    EXPECT_TRUE(known.find("a", 159));
    EXPECT_FALSE(known.find("a", 160)) << "read it again from the store after max_age";
    known.remember(record("a", 10000), 160);
    EXPECT_TRUE(known.find("a", 219));
}

TEST(KnownConnections, ForgetsOnRequest)
{
    known_connections known(8, 60);
    known.remember(record("a"), 0);
    known.remember(record("b"), 0);
    known.forget("a");
    known.forget("never-seen");
    EXPECT_FALSE(known.find("a", 0));
    EXPECT_TRUE(known.find("b", 0));
    EXPECT_EQ(known.size(), 1U);
}

TEST(KnownConnections, KeepsAtMostCapacityDroppingTheOldest)
{
    known_connections known(3, 60);
    for (char c = 'a'; c <= 'e'; ++c) {
        known.remember(record(std::string(1, c)), 0);
    }
    EXPECT_EQ(known.size(), 3U);
    EXPECT_FALSE(known.find("a", 0));
    EXPECT_FALSE(known.find("b", 0));
    EXPECT_TRUE(known.find("c", 0));
    EXPECT_TRUE(known.find("e", 0));
}

TEST(KnownConnections, ForgottenEntriesDoNotGrowTheEvictionOrderWithoutBound)
{
    known_connections known(2, 60);
    for (int i = 0; i < 1000; ++i) {
        auto const id = "c" + std::to_string(i);
        known.remember(record(id), 0);
        known.forget(id);
    }
    EXPECT_EQ(known.size(), 0U);
    known.remember(record("x"), 0);
    known.remember(record("y"), 0);
    EXPECT_TRUE(known.find("x", 0));
    EXPECT_TRUE(known.find("y", 0));
}

TEST(KnownConnections, CapacityZeroRemembersNothing)
{
    known_connections known(0, 60);
    known.remember(record("a"), 0);
    EXPECT_FALSE(known.find("a", 0));
    EXPECT_EQ(known.size(), 0U);
}

} // namespace
} // namespace stratus
