#include "adapters/jwt/hs256_token_issuer.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "adapters/jwt/hs256_token_verifier.hpp"

namespace {

using stratus::errc;
using stratus::hs256_token_issuer;
using stratus::hs256_token_verifier;
using stratus::identity;

constexpr std::int64_t now_s = 1'700'000'000;
constexpr std::string_view secret = "3b6e9c1f4a7d0e2b5c8f1a4d7e0b3c6f9a2d5e8b1c4f7a0d3e6b9c2f5a8d1e4b";

class fake_clock final : public stratus::clock {
public:
    explicit fake_clock(std::int64_t ms) : ms_(ms) {}
    std::int64_t now_ms() override { return ms_; }

private:
    std::int64_t ms_;
};

std::string b64url_decode(std::string_view text)
{
    std::string b64(text);
    for (char& ch : b64) {
        if (ch == '-') {
            ch = '+';
        } else if (ch == '_') {
            ch = '/';
        }
    }
    while (b64.size() % 4 != 0) {
        b64.push_back('=');
    }
    std::string out(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<unsigned char const*>(b64.data()), static_cast<int>(b64.size()));
    if (n < 0) {
        return {};
    }
    // EVP_DecodeBlock counts padding as zero bytes.
    for (auto it = b64.rbegin(); it != b64.rend() && *it == '='; ++it) {
        --n;
    }
    out.resize(static_cast<std::size_t>(n));
    return out;
}

nlohmann::json segment(std::string const& token, int index)
{
    std::size_t begin = 0;
    for (int i = 0; i < index; ++i) {
        begin = token.find('.', begin) + 1;
    }
    std::size_t const end = token.find('.', begin);
    return nlohmann::json::parse(b64url_decode(token.substr(begin, end - begin)));
}

class Hs256TokenIssuer : public ::testing::Test {
protected:
    fake_clock clock_{now_s * 1000};
    hs256_token_issuer issuer_{std::string(secret), "stratus-dev", "stratus"};
    hs256_token_verifier verifier_{std::string(secret), "stratus-dev", "stratus", clock_};
};

TEST_F(Hs256TokenIssuer, RoundTripsThroughVerifier)
{
    identity const alice{hs256_token_issuer::dev_user_id(secret, "Alice"), "Alice"};
    auto const token = issuer_.issue(alice, now_s, 3600);
    ASSERT_TRUE(token.has_value()) << token.error().detail;
    auto const who = verifier_.verify(*token);
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(*who, alice);
}

TEST_F(Hs256TokenIssuer, RoundTripsUnicodeName)
{
    identity const zoe{"u_zoe", "Zoë ☁"};
    auto const token = issuer_.issue(zoe, now_s, 60);
    ASSERT_TRUE(token.has_value()) << token.error().detail;
    auto const who = verifier_.verify(*token);
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(*who, zoe);
}

TEST_F(Hs256TokenIssuer, MintsExpectedHeaderAndClaims)
{
    auto const token = issuer_.issue({"u_1", "Bob"}, now_s, 900);
    ASSERT_TRUE(token.has_value()) << token.error().detail;
    auto const header = segment(*token, 0);
    EXPECT_EQ(header, (nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}}));
    auto const claims = segment(*token, 1);
    EXPECT_EQ(claims.at("iss"), "stratus-dev");
    EXPECT_EQ(claims.at("aud"), "stratus");
    EXPECT_EQ(claims.at("sub"), "u_1");
    EXPECT_EQ(claims.at("name"), "Bob");
    EXPECT_EQ(claims.at("iat"), now_s);
    EXPECT_EQ(claims.at("nbf"), now_s);
    EXPECT_EQ(claims.at("exp"), now_s + 900);
    EXPECT_EQ(claims.size(), 7U);
}

TEST_F(Hs256TokenIssuer, TokenExpiresAfterLifetime)
{
    auto const token = issuer_.issue({"u_1", "Bob"}, now_s - 3600 - 60, 3600);
    ASSERT_TRUE(token.has_value());
    EXPECT_FALSE(verifier_.verify(*token).has_value());
}

TEST_F(Hs256TokenIssuer, RefusesInvalidIdentity)
{
    EXPECT_EQ(issuer_.issue({"", "Bob"}, now_s, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue({"u/../x", "Bob"}, now_s, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue({std::string(65, 'a'), "Bob"}, now_s, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue({"u_1", ""}, now_s, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue({"u_1", std::string(40, 'x')}, now_s, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue({"u_1", "bad\xff"}, now_s, 60).error().code, errc::invalid_request);
}

TEST_F(Hs256TokenIssuer, RefusesBadLifetimeAndTime)
{
    identity const bob{"u_1", "Bob"};
    EXPECT_EQ(issuer_.issue(bob, now_s, 0).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue(bob, now_s, -5).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue(bob, now_s, hs256_token_issuer::max_lifetime_s + 1).error().code,
              errc::invalid_request);
    EXPECT_EQ(issuer_.issue(bob, -1, 60).error().code, errc::invalid_request);
    EXPECT_EQ(issuer_.issue(bob, INT64_MAX, 60).error().code, errc::invalid_request);
}

TEST_F(Hs256TokenIssuer, RefusesShortSecret)
{
    hs256_token_issuer const weak{"short", "stratus-dev", "stratus"};
    auto const token = weak.issue({"u_1", "Bob"}, now_s, 60);
    ASSERT_FALSE(token.has_value());
    EXPECT_EQ(token.error().code, errc::internal);
}

TEST_F(Hs256TokenIssuer, DevUserIdIsStableAndCaseInsensitive)
{
    auto const id = hs256_token_issuer::dev_user_id(secret, "alice");
    EXPECT_EQ(id, hs256_token_issuer::dev_user_id(secret, "alice"));
    EXPECT_EQ(id, hs256_token_issuer::dev_user_id(secret, "Alice"));
    EXPECT_EQ(id, hs256_token_issuer::dev_user_id(secret, "ALICE"));
    EXPECT_NE(id, hs256_token_issuer::dev_user_id(secret, "bob"));
    EXPECT_NE(id, hs256_token_issuer::dev_user_id(secret, "alice "));
    EXPECT_TRUE(hs256_token_verifier::is_valid_user_id(id)) << id;
}

TEST_F(Hs256TokenIssuer, DevUserIdHasDocumentedFormat)
{
    // "u_" + the first 16 hex chars of HMAC-SHA256("key", "alice"), computed independently:
    //   printf alice | openssl dgst -sha256 -hmac key
    EXPECT_EQ(hs256_token_issuer::dev_user_id("key", "Alice"), "u_76fb55e929c06b97");
}

TEST_F(Hs256TokenIssuer, DevUserIdDependsOnSecret)
{
    EXPECT_NE(hs256_token_issuer::dev_user_id(secret, "alice"),
              hs256_token_issuer::dev_user_id("other", "alice"));
}

TEST_F(Hs256TokenIssuer, DevUserIdOnlyLowercasesAscii)
{
    // Non-ASCII letters are kept as they are: "É" and "é" are different users.
    EXPECT_NE(hs256_token_issuer::dev_user_id(secret, "\xc3\x89mile"),
              hs256_token_issuer::dev_user_id(secret, "\xc3\xa9mile"));
    EXPECT_EQ(hs256_token_issuer::dev_user_id(secret, "\xc3\xa9MILE"),
              hs256_token_issuer::dev_user_id(secret, "\xc3\xa9mile"));
}

} // namespace
