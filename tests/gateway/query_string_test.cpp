#include "gateway/query_string.hpp"

#include <gtest/gtest.h>

namespace stratus::gateway {
namespace {

using pairs = std::vector<std::pair<std::string, std::string>>;

TEST(QueryString, SplitsAndDecodesInOrder)
{
    EXPECT_EQ(query_string::parse("token=abc&x=1&x=2"), (pairs{{"token", "abc"}, {"x", "1"}, {"x", "2"}}));
    EXPECT_EQ(query_string::parse("a=%3D%41&flag&=v&&b="),
              (pairs{{"a", "=A"}, {"flag", ""}, {"", "v"}, {"b", ""}}));
    EXPECT_EQ(query_string::parse("bad=%zz"), (pairs{{"bad", "%zz"}}))
        << "malformed escapes are kept as sent";
    EXPECT_TRUE(query_string::parse("").empty());
}

TEST(QueryString, NeverReadsPastTheViewItIsGiven)
{
    // Regression: the handshake target is a view into a larger buffer.
    std::string const buffer = "/local?token=abc.def HTTP/1.1\r\nHost: x";
    std::string_view const query = std::string_view(buffer).substr(7, 13);
    EXPECT_EQ(query, "token=abc.def");
    EXPECT_EQ(query_string::parse(query), (pairs{{"token", "abc.def"}}));
}

TEST(QueryString, PercentDecodes)
{
    EXPECT_EQ(*query_string::percent_decode("R1kmxc2VNjMCFIA%3D"), "R1kmxc2VNjMCFIA=");
    EXPECT_EQ(*query_string::percent_decode("%40connections"), "@connections");
    EXPECT_FALSE(query_string::percent_decode("%4").has_value());
    EXPECT_FALSE(query_string::percent_decode("%g0").has_value());
    EXPECT_FALSE(query_string::percent_decode("end%").has_value());
}

} // namespace
} // namespace stratus::gateway
