#include "adapters/jwt/compact_jws.hpp"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace {

using stratus::compact_jws;
using stratus::decode_canonical_base64url;

// Known encodings (computed independently of the code under test).
constexpr std::string_view header_b64 = "eyJhbGciOiJIUzI1NiJ9"; // {"alg":"HS256"}
constexpr std::string_view payload_b64 = "eyJzdWIiOiJ1MSJ9";    // {"sub":"u1"}
constexpr std::string_view signature_b64 = "c2ln";              // sig
constexpr std::string_view every_byte_b64 =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xN"
    "Tk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn-AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqb"
    "nJ2en6ChoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8vb6_wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t_g4eLj5OXm5-jp"
    "6uvs7e7v8PHy8_T19vf4-fr7_P3-_w"; // the bytes 0x00 to 0xff in order

std::string join(std::string_view header, std::string_view payload, std::string_view signature)
{
    return std::string(header) + "." + std::string(payload) + "." + std::string(signature);
}

// ---------------------------------------------------------------------------
// decode_canonical_base64url
// ---------------------------------------------------------------------------

TEST(DecodeCanonicalBase64url, DecodesEveryLength)
{
    EXPECT_EQ(decode_canonical_base64url("QQ"), std::optional<std::string>("A"));
    EXPECT_EQ(decode_canonical_base64url("QUI"), std::optional<std::string>("AB"));
    EXPECT_EQ(decode_canonical_base64url("QUJD"), std::optional<std::string>("ABC"));
    EXPECT_EQ(decode_canonical_base64url("-w"), std::optional<std::string>("\xfb"));
    EXPECT_EQ(decode_canonical_base64url("__8"), std::optional<std::string>("\xff\xff"));
}

TEST(DecodeCanonicalBase64url, DecodesEveryByteValue)
{
    std::string all;
    for (int byte = 0; byte < 256; ++byte) {
        all.push_back(static_cast<char>(byte));
    }
    EXPECT_EQ(decode_canonical_base64url(every_byte_b64), std::optional<std::string>(all));
}

TEST(DecodeCanonicalBase64url, RefusesEverythingNonCanonical)
{
    for (std::string_view text :
         std::initializer_list<std::string_view>{"", "Q", "QQ=", "QQ==", "QR", "QUJ", "+w", "/w", "Q Q",
                                                 "QQ\n", "QUJDQ", std::string_view("Q\0", 2), "\xc3\xa9QQ"}) {
        EXPECT_FALSE(decode_canonical_base64url(text).has_value()) << text;
    }
}

// ---------------------------------------------------------------------------
// compact_jws::split
// ---------------------------------------------------------------------------

TEST(CompactJws, SplitsAndDecodesThreeSegments)
{
    std::string const token = join(header_b64, payload_b64, signature_b64);
    auto const jws = compact_jws::split(token);
    ASSERT_TRUE(jws.has_value());
    EXPECT_EQ(jws->header, R"({"alg":"HS256"})");
    EXPECT_EQ(jws->payload, R"({"sub":"u1"})");
    EXPECT_EQ(jws->signature, "sig");
    // The signing input is the sent text itself, not a re-encoding.
    std::string_view const whole = token;
    EXPECT_EQ(jws->signing_input, whole.substr(0, whole.rfind('.')));
    EXPECT_EQ(jws->signing_input.data(), token.data());
}

TEST(CompactJws, LeavesTheSegmentsUnparsed)
{
    // "not json" as header and payload: JSON is the caller's business.
    auto const jws = compact_jws::split(join("bm90IGpzb24", "bm90IGpzb24", signature_b64));
    ASSERT_TRUE(jws.has_value());
    EXPECT_EQ(jws->header, "not json");
    EXPECT_EQ(jws->payload, "not json");
}

TEST(CompactJws, RefusesAnythingButThreeSegments)
{
    std::string const two = std::string(header_b64) + "." + std::string(payload_b64);
    for (std::string const& token :
         {std::string(), std::string(header_b64), two, two + ".", join(header_b64, payload_b64, "") + ".",
          join(header_b64, payload_b64, signature_b64) + "." + std::string(signature_b64), std::string(".."),
          std::string("...")}) {
        EXPECT_FALSE(compact_jws::split(token).has_value()) << token;
    }
}

TEST(CompactJws, RefusesAnEmptySegment)
{
    EXPECT_FALSE(compact_jws::split(join("", payload_b64, signature_b64)).has_value());
    EXPECT_FALSE(compact_jws::split(join(header_b64, "", signature_b64)).has_value());
    EXPECT_FALSE(compact_jws::split(join(header_b64, payload_b64, "")).has_value());
}

TEST(CompactJws, RefusesANonCanonicalSegmentInAnyPosition)
{
    // Padding, the standard alphabet, non-zero trailing bits, an impossible length, white space.
    for (std::string_view bad : std::initializer_list<std::string_view>{"c2ln=", "c2l+", "c2l/", "c2m",
                                                                        "c2lnQ", "c2 ln", "c2ln\n"}) {
        EXPECT_FALSE(compact_jws::split(join(bad, payload_b64, signature_b64)).has_value()) << bad;
        EXPECT_FALSE(compact_jws::split(join(header_b64, bad, signature_b64)).has_value()) << bad;
        EXPECT_FALSE(compact_jws::split(join(header_b64, payload_b64, bad)).has_value()) << bad;
    }
}

} // namespace
