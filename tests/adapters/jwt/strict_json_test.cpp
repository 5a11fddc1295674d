#include "adapters/jwt/strict_json.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using stratus::errc;
using stratus::parse_strict_json_object;

constexpr int depth = 4;

void expect_refused(std::string_view text, std::string const& detail, errc code = errc::unauthorized)
{
    auto const parsed = parse_strict_json_object(text, depth, code, "header");
    ASSERT_FALSE(parsed.has_value()) << "accepted: " << parsed->dump();
    EXPECT_EQ(parsed.error().code, code);
    EXPECT_EQ(parsed.error().detail, detail) << text;
}

/// `levels` nested arrays around an empty object, itself inside the outer object.
std::string nested(int levels)
{
    return R"({"x":)" + std::string(static_cast<std::size_t>(levels), '[') + "{}" +
           std::string(static_cast<std::size_t>(levels), ']') + "}";
}

TEST(StrictJson, ParsesAnObject)
{
    auto const parsed = parse_strict_json_object(R"({"alg":"HS256","n":1,"o":{"k":[true,null]}})", depth,
                                                 errc::unauthorized, "header");
    ASSERT_TRUE(parsed.has_value()) << parsed.error().detail;
    EXPECT_EQ(parsed->at("alg"), "HS256");
    EXPECT_EQ(parsed->at("n"), 1);
    EXPECT_EQ(parsed->at("o").at("k").size(), 2U);
}

TEST(StrictJson, AllowsTheSameNameInDifferentObjects)
{
    auto const parsed = parse_strict_json_object(R"({"a":{"a":1},"b":[{"a":2},{"a":3}]})", depth,
                                                 errc::unauthorized, "header");
    ASSERT_TRUE(parsed.has_value()) << parsed.error().detail;
    EXPECT_EQ(parsed->at("b").at(1).at("a"), 3);
}

TEST(StrictJson, AcceptsNestingUpToTheLimit)
{
    // The outer object, two arrays and the inner object: depth 4.
    EXPECT_TRUE(parse_strict_json_object(nested(2), depth, errc::unauthorized, "header").has_value());
}

TEST(StrictJson, RefusesNestingBeyondTheLimit)
{
    expect_refused(nested(3), "header nests too deeply or holds NUL");
    expect_refused(std::string(1000, '[') + std::string(1000, ']'), "header nests too deeply or holds NUL");
}

TEST(StrictJson, RefusesANulByte)
{
    // nlohmann/json would stop at the NUL and accept what came before.
    expect_refused(std::string_view("{}\0x", 4), "header nests too deeply or holds NUL");
    expect_refused(std::string_view("{\"a\":\"\0\"}", 9), "header nests too deeply or holds NUL");
}

TEST(StrictJson, RefusesInvalidJson)
{
    for (std::string_view text : std::initializer_list<std::string_view>{"", "{", "{}x", "{} {}", "{'a':1}",
                                                                         R"({"a":})", "not json"}) {
        expect_refused(text, "header is not valid JSON");
    }
}

TEST(StrictJson, RefusesDuplicateMemberNamesAtAnyDepth)
{
    expect_refused(R"({"alg":"none","alg":"HS256"})", "header has duplicate member names");
    expect_refused(R"({"o":{"k":1,"k":1}})", "header has duplicate member names");
    expect_refused(R"({"a":[{"k":1,"k":2}]})", "header has duplicate member names");
    // The same name spelled with an escape is still the same name.
    expect_refused(R"({"alg":1,"\u0061lg":2})", "header has duplicate member names");
}

TEST(StrictJson, RefusesValuesThatAreNotObjects)
{
    for (std::string_view text :
         std::initializer_list<std::string_view>{"[]", "[{}]", "1", "\"alg\"", "null", "true"}) {
        expect_refused(text, "header is not a JSON object");
    }
}

TEST(StrictJson, ChecksDuplicatesBeforeTheType)
{
    expect_refused(R"([{"k":1,"k":2}])", "header has duplicate member names");
}

TEST(StrictJson, RefusesWithTheGivenCodeAndName)
{
    auto const parsed = parse_strict_json_object("[]", depth, errc::invalid_request, "JWKS");
    ASSERT_FALSE(parsed.has_value());
    EXPECT_EQ(parsed.error().code, errc::invalid_request);
    EXPECT_EQ(parsed.error().detail, "JWKS is not a JSON object");
}

} // namespace
