#include "adapters/jwt/cognito_token_verifier.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "adapters/jwt/hs256_token_issuer.hpp"

namespace {

using nlohmann::json;
using stratus::cognito_token_verifier;
using stratus::errc;
using stratus::identity;

constexpr std::int64_t now_s = 1'700'000'000;
constexpr std::string_view region = "eu-west-1";
constexpr std::string_view pool_id = "eu-west-1_AbCdEf123";
constexpr std::string_view client_id = "1example23456789clientid";
constexpr std::string_view other_client_id = "2second0client0id";
constexpr std::string_view sub = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
constexpr std::string_view kid_1 = "kid-1-ZmlyzdB8y4Rb0WcqrBHxg8Bb5dNF1kNbKnyGmo8=";
constexpr std::string_view kid_2 = "kid-2-rotated";

std::string issuer()
{
    return cognito_token_verifier::issuer_for(region, pool_id);
}

// ---------------------------------------------------------------------------
// Keys and token minting, independent of the code under test
// ---------------------------------------------------------------------------

struct pkey_free {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

pkey_ptr generate_rsa(unsigned int bits)
{
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), EVP_PKEY_CTX_free);
    EVP_PKEY* key = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) != 1 || EVP_PKEY_generate(ctx.get(), &key) != 1) {
        ADD_FAILURE() << "RSA key generation failed";
    }
    return pkey_ptr(key);
}

// Each key is generated once per process, on first use (ctest runs every test
// in its own process, so tests that do not need a key do not pay for it).
EVP_PKEY* pool_key()
{
    static pkey_ptr const key = generate_rsa(2048);
    return key.get();
}

EVP_PKEY* rotated_key()
{
    static pkey_ptr const key = generate_rsa(2048);
    return key.get();
}

EVP_PKEY* attacker_key()
{
    static pkey_ptr const key = generate_rsa(2048);
    return key.get();
}

EVP_PKEY* weak_key()
{
    static pkey_ptr const key = generate_rsa(1024);
    return key.get();
}

std::string b64url(std::string_view bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int const n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<unsigned char const*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char& ch : out) {
        if (ch == '+') {
            ch = '-';
        } else if (ch == '/') {
            ch = '_';
        }
    }
    return out;
}

std::string rsa_param(EVP_PKEY* key, char const* name)
{
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
        ADD_FAILURE() << "no " << name;
        return {};
    }
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return bytes;
}

json jwk(EVP_PKEY* key, std::string_view kid)
{
    return json{{"alg", "RS256"}, {"e", b64url(rsa_param(key, OSSL_PKEY_PARAM_RSA_E))}, {"kid", kid},
                {"kty", "RSA"},   {"n", b64url(rsa_param(key, OSSL_PKEY_PARAM_RSA_N))}, {"use", "sig"}};
}

std::string jwks_of(std::vector<json> const& keys)
{
    return json{{"keys", keys}}.dump();
}

/// The public key as PEM (SubjectPublicKeyInfo): what a confused verifier would use as an HMAC secret.
std::string public_pem(EVP_PKEY* key)
{
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key);
    char* data = nullptr;
    long const len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string rsa_sign(EVP_PKEY* key, std::string_view input, EVP_MD const* md = EVP_sha256(),
                     int padding = RSA_PKCS1_PADDING)
{
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_PKEY_CTX* pctx = nullptr;
    std::size_t len = 0;
    auto const* data = reinterpret_cast<unsigned char const*>(input.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data, input.size()) != 1) {
        ADD_FAILURE() << "cannot sign";
        return {};
    }
    std::string signature(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len, data,
                       input.size()) != 1) {
        ADD_FAILURE() << "cannot sign";
    }
    signature.resize(len);
    return signature;
}

std::string hmac_sha256(std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<unsigned char const*>(data.data()), data.size(), mac, &len);
    return std::string(reinterpret_cast<char const*>(mac), len);
}

std::string header_json(std::string_view kid = kid_1, std::string_view alg = "RS256")
{
    return json{{"kid", kid}, {"alg", alg}}.dump();
}

/// header.payload with the given raw JSON texts (so that duplicate keys survive).
std::string signing_input(std::string_view header, std::string_view payload)
{
    return b64url(header) + "." + b64url(payload);
}

std::string sign_input(std::string const& input, EVP_PKEY* key = pool_key(), EVP_MD const* md = EVP_sha256(),
                       int padding = RSA_PKCS1_PADDING)
{
    return input + "." + b64url(rsa_sign(key, input, md, padding));
}

std::string mint(std::string_view header, std::string_view payload, EVP_PKEY* key = pool_key(),
                 EVP_MD const* md = EVP_sha256(), int padding = RSA_PKCS1_PADDING)
{
    return sign_input(signing_input(header, payload), key, md, padding);
}

/// Claims of a Cognito id token (the shape Cognito issues).
json id_claims()
{
    return json{{"sub", sub},
                {"email_verified", true},
                {"iss", issuer()},
                {"cognito:username", "alice"},
                {"origin_jti", "4f2b9e0a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},
                {"aud", client_id},
                {"event_id", "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"},
                {"token_use", "id"},
                {"auth_time", now_s - 20},
                {"exp", now_s + 3600},
                {"iat", now_s - 10},
                {"jti", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
                {"email", "alice@example.com"}};
}

/// Claims of a Cognito access token.
json access_claims()
{
    return json{{"sub", sub},
                {"iss", issuer()},
                {"client_id", client_id},
                {"origin_jti", "4f2b9e0a-1c3d-4e5f-8a7b-6c5d4e3f2a1b"},
                {"event_id", "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"},
                {"token_use", "access"},
                {"scope", "aws.cognito.signin.user.admin"},
                {"auth_time", now_s - 20},
                {"exp", now_s + 3600},
                {"iat", now_s - 10},
                {"jti", "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"},
                {"username", "alice"}};
}

json with(json claims, std::string const& claim, json value)
{
    claims[claim] = std::move(value);
    return claims;
}

json with(std::string const& claim, json value)
{
    return with(id_claims(), claim, std::move(value));
}

json without(std::string const& claim, json claims = id_claims())
{
    claims.erase(claim);
    return claims;
}

std::string token_with(json const& payload, std::string_view header = header_json())
{
    return mint(header, payload.dump());
}

std::string valid_token()
{
    return token_with(id_claims());
}

std::vector<std::string> split(std::string const& token)
{
    std::vector<std::string> parts(1);
    for (char ch : token) {
        if (ch == '.') {
            parts.emplace_back();
        } else {
            parts.back().push_back(ch);
        }
    }
    return parts;
}

std::string flip(std::string text, std::size_t pos)
{
    text.at(pos) = text.at(pos) == 'A' ? 'B' : 'A';
    return text;
}

// ---------------------------------------------------------------------------
// Fakes: clock and JWKS endpoint
// ---------------------------------------------------------------------------

class fake_clock final : public stratus::clock {
public:
    explicit fake_clock(std::int64_t ms) : ms_(ms) {}
    std::int64_t now_ms() override { return ms_.load(); }
    void advance_s(std::int64_t seconds) { ms_ += seconds * 1000; }

private:
    std::atomic<std::int64_t> ms_;
};

/// What the verifier fetches: a document (or a failure), with a call counter.
class fake_jwks_endpoint {
public:
    void serve(std::string document)
    {
        std::lock_guard<std::mutex> const lock(mutex_);
        document_ = std::move(document);
        failure_.reset();
    }

    void fail_with(std::string detail)
    {
        std::lock_guard<std::mutex> const lock(mutex_);
        failure_ = std::move(detail);
    }

    void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }

    [[nodiscard]] int calls() const { return calls_.load(); }

    cognito_token_verifier::jwks_fetch fetcher()
    {
        return [this]() -> stratus::result<std::string> {
            ++calls_;
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
            std::lock_guard<std::mutex> const lock(mutex_);
            if (failure_) {
                return stratus::fail(errc::unavailable, *failure_);
            }
            return document_;
        };
    }

private:
    std::mutex mutex_;
    std::string document_;
    std::optional<std::string> failure_;
    std::atomic<int> calls_{0};
    std::atomic<std::int64_t> delay_ms_{0};
};

cognito_token_verifier::settings settings_for(cognito_token_verifier::token_use use)
{
    cognito_token_verifier::settings config;
    config.issuer = issuer();
    config.client_ids = {std::string(other_client_id), std::string(client_id)};
    config.use = use;
    return config;
}

class verifier_fixture {
protected:
    verifier_fixture() { endpoint_.serve(jwks_of({jwk(pool_key(), kid_1)})); }

    fake_clock clock_{now_s * 1000 + 500};
    fake_jwks_endpoint endpoint_;
    cognito_token_verifier verifier_{settings_for(cognito_token_verifier::token_use::id), clock_,
                                     endpoint_.fetcher()};
    cognito_token_verifier access_verifier_{settings_for(cognito_token_verifier::token_use::access), clock_,
                                            endpoint_.fetcher()};
};

class CognitoTokenVerifier : public ::testing::Test, protected verifier_fixture {};

void expect_unauthorized(stratus::result<identity> const& result, std::string_view reason = {})
{
    ASSERT_FALSE(result.has_value()) << "accepted as " << result->user_id;
    EXPECT_EQ(result.error().code, errc::unauthorized) << result.error().detail;
    EXPECT_FALSE(result.error().detail.empty());
    if (!reason.empty()) {
        EXPECT_EQ(result.error().detail, reason);
    }
}

/// The name of an accepted token, or why it was refused.
std::string name_of(stratus::result<identity> const& result)
{
    return result ? result->name : "<refused: " + result.error().detail + ">";
}

// ---------------------------------------------------------------------------
// Accepted tokens and the identity they give
// ---------------------------------------------------------------------------

TEST_F(CognitoTokenVerifier, IssuerAndJwksUrlFollowCognito)
{
    EXPECT_EQ(issuer(), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123");
    EXPECT_EQ(cognito_token_verifier::jwks_url(issuer()),
              "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json");
}

TEST_F(CognitoTokenVerifier, AcceptsValidIdToken)
{
    auto const who = verifier_.verify(valid_token());
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->user_id, sub);
    EXPECT_EQ(who->name, "alice");
}

TEST_F(CognitoTokenVerifier, AcceptsValidAccessToken)
{
    auto const who = access_verifier_.verify(token_with(access_claims()));
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->user_id, sub);
    EXPECT_EQ(who->name, "alice");
}

TEST_F(CognitoTokenVerifier, AcceptsEveryConfiguredClient)
{
    EXPECT_TRUE(verifier_.verify(token_with(with("aud", other_client_id))).has_value());
    EXPECT_TRUE(
        access_verifier_.verify(token_with(with(access_claims(), "client_id", other_client_id))).has_value());
}

TEST_F(CognitoTokenVerifier, AcceptsTypJwtAndIgnoresKeyUrlHeaders)
{
    // jku/x5u are never followed: with the pool's key they change nothing...
    std::string const header = R"({"kid":")" + std::string(kid_1) +
                               R"(","alg":"RS256","typ":"JWT","jku":"https://evil.example/jwks"})";
    EXPECT_TRUE(verifier_.verify(token_with(id_claims(), header)).has_value());
    // ...and with the attacker's key (as they would like) the signature fails.
    auto const forged = mint(header, id_claims().dump(), attacker_key());
    expect_unauthorized(verifier_.verify(forged), "bad signature");
}

TEST_F(CognitoTokenVerifier, AcceptsOptionalNbf)
{
    EXPECT_TRUE(verifier_.verify(token_with(with("nbf", now_s - 10))).has_value());
    EXPECT_TRUE(verifier_.verify(token_with(with("nbf", now_s + 60))).has_value());
    expect_unauthorized(verifier_.verify(token_with(with("nbf", now_s + 61))), "token not yet valid");
}

TEST_F(CognitoTokenVerifier, ExpLeewayBoundary)
{
    // now < exp + 60 s: 59 s after exp is still accepted, 60 s is not.
    EXPECT_TRUE(verifier_.verify(token_with(with("exp", now_s - 59))).has_value());
    expect_unauthorized(verifier_.verify(token_with(with("exp", now_s - 60))), "token expired");
}

TEST_F(CognitoTokenVerifier, IatLeewayBoundary)
{
    EXPECT_TRUE(verifier_.verify(token_with(with("iat", now_s + 60))).has_value());
    expect_unauthorized(verifier_.verify(token_with(with("iat", now_s + 61))), "token issued in the future");
}

TEST_F(CognitoTokenVerifier, UsesInjectedClock)
{
    auto const token = token_with(with("exp", now_s + 100));
    EXPECT_TRUE(verifier_.verify(token).has_value());
    clock_.advance_s(100 + 60);
    expect_unauthorized(verifier_.verify(token), "token expired");
}

TEST_F(CognitoTokenVerifier, NamePrefersPreferredUsernameThenNameThenUsername)
{
    json claims = with("preferred_username", "Ally");
    claims["name"] = "Alice Liddell";
    EXPECT_EQ(name_of(verifier_.verify(token_with(claims))), "Ally");
    EXPECT_EQ(name_of(verifier_.verify(token_with(without("preferred_username", claims)))), "Alice Liddell");
    EXPECT_EQ(name_of(verifier_.verify(token_with(with("name", "Zoë 日本")))), "Zoë 日本");
    EXPECT_EQ(name_of(verifier_.verify(valid_token())), "alice");                      // cognito:username
    EXPECT_EQ(name_of(access_verifier_.verify(token_with(access_claims()))), "alice"); // username
}

TEST_F(CognitoTokenVerifier, NameSkipsCandidatesThatFailValidation)
{
    json claims = with("preferred_username", std::string(40, 'x')); // too long
    claims["name"] = " padded ";                                    // leading space
    EXPECT_EQ(name_of(verifier_.verify(token_with(claims))), "alice");
    claims["cognito:username"] = "bell\x07";
    EXPECT_EQ(name_of(verifier_.verify(token_with(claims))), "user-0f1e2d3c");
    claims["cognito:username"] = 42;
    EXPECT_EQ(name_of(verifier_.verify(token_with(claims))), "user-0f1e2d3c");
}

TEST_F(CognitoTokenVerifier, NameNeverComesFromEmail)
{
    // Only `email` present: the fallback, never the address (names are shown to others).
    auto const who = verifier_.verify(token_with(without("cognito:username")));
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->name, "user-0f1e2d3c");
}

TEST_F(CognitoTokenVerifier, ShortSubFallbackNameIsWholeSub)
{
    json claims = without("cognito:username");
    claims["sub"] = "abc";
    EXPECT_EQ(name_of(verifier_.verify(token_with(claims))), "user-abc");
}

TEST_F(CognitoTokenVerifier, RefusesHs256DevToken)
{
    std::string const secret(64, 'k');
    stratus::hs256_token_issuer const dev{secret, issuer(), std::string(client_id)};
    auto const token = dev.issue(identity{"u_alice", "Alice"}, now_s, 3600);
    ASSERT_TRUE(token.has_value()) << token.error().detail;
    expect_unauthorized(verifier_.verify(*token), "algorithm is not RS256");
    EXPECT_EQ(endpoint_.calls(), 0) << "refused before any key is needed";
}

TEST_F(CognitoTokenVerifier, ReasonsAreShortAndDoNotEchoTheToken)
{
    auto const token = valid_token();
    expect_unauthorized(verifier_.verify(flip(token, token.size() - 10)), "bad signature");
}

TEST_F(CognitoTokenVerifier, EveryTruncationIsRefused)
{
    std::string const valid = valid_token();
    for (std::size_t length = 0; length < valid.size(); ++length) {
        EXPECT_FALSE(verifier_.verify(std::string_view(valid).substr(0, length)).has_value()) << length;
    }
}

TEST_F(CognitoTokenVerifier, EverySingleByteMutationIsRefused)
{
    std::string const valid = valid_token();
    ASSERT_TRUE(verifier_.verify(valid).has_value());
    std::string const replacements("\0.=+/-_Aa9\xff", 11);
    for (std::size_t pos = 0; pos < valid.size(); ++pos) {
        for (char replacement : replacements) {
            if (replacement == valid[pos]) {
                continue;
            }
            std::string mutated = valid;
            mutated[pos] = replacement;
            auto const result = verifier_.verify(mutated);
            ASSERT_FALSE(result.has_value()) << "byte " << pos << " -> " << static_cast<int>(replacement);
            EXPECT_EQ(result.error().code, errc::unauthorized);
        }
    }
}

TEST_F(CognitoTokenVerifier, MisconfiguredVerifierRefusesEverything)
{
    auto no_issuer = settings_for(cognito_token_verifier::token_use::id);
    no_issuer.issuer.clear();
    auto no_clients = settings_for(cognito_token_verifier::token_use::id);
    no_clients.client_ids.clear();
    cognito_token_verifier a{no_issuer, clock_, endpoint_.fetcher()};
    cognito_token_verifier b{no_clients, clock_, endpoint_.fetcher()};
    cognito_token_verifier c{settings_for(cognito_token_verifier::token_use::id), clock_, nullptr};
    for (auto* verifier : {&a, &b, &c}) {
        auto const result = verifier->verify(valid_token());
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().code, errc::unauthorized);
        EXPECT_NE(result.error().detail.find("misconfigured"), std::string::npos);
    }
}

// ---------------------------------------------------------------------------
// The key cache: lazy fetch, rate-limited refresh, rotation, failures
// ---------------------------------------------------------------------------

TEST_F(CognitoTokenVerifier, FetchesKeysLazilyAndOnce)
{
    EXPECT_EQ(endpoint_.calls(), 0);
    EXPECT_EQ(verifier_.fetch_attempts(), 0U);
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(verifier_.verify(valid_token()).has_value());
    }
    EXPECT_EQ(endpoint_.calls(), 1);
    EXPECT_EQ(verifier_.fetch_attempts(), 1U);
}

TEST_F(CognitoTokenVerifier, UnknownKidRefetchesOnceThenFailsAndIsRateLimited)
{
    ASSERT_TRUE(verifier_.verify(valid_token()).has_value());
    ASSERT_EQ(endpoint_.calls(), 1);
    clock_.advance_s(61);

    expect_unauthorized(verifier_.verify(token_with(id_claims(), header_json("bogus-1"))), "unknown kid");
    EXPECT_EQ(endpoint_.calls(), 2) << "one refetch for the unknown kid";

    // A flood of other unknown kids within the interval does not reach the endpoint.
    for (int i = 0; i < 20; ++i) {
        expect_unauthorized(
            verifier_.verify(token_with(id_claims(), header_json("bogus-x" + std::to_string(i)))),
            "unknown kid");
    }
    EXPECT_EQ(endpoint_.calls(), 2);
    EXPECT_TRUE(verifier_.verify(valid_token()).has_value()) << "known keys keep working";

    // After the interval, one more attempt is allowed.
    clock_.advance_s(60);
    expect_unauthorized(verifier_.verify(token_with(id_claims(), header_json("bogus-2"))), "unknown kid");
    EXPECT_EQ(endpoint_.calls(), 3);
}

TEST_F(CognitoTokenVerifier, KeyRotationIsPickedUpOnUnknownKid)
{
    // Tokens valid for a day, so that the clock can pass max_key_age.
    auto const old_key = token_with(with("exp", now_s + 86400));
    auto const rotated = mint(header_json(kid_2), with("exp", now_s + 86400).dump(), rotated_key());
    ASSERT_TRUE(verifier_.verify(old_key).has_value());

    // The pool publishes a new key; within the interval since the first fetch it is not seen yet.
    endpoint_.serve(jwks_of({jwk(pool_key(), kid_1), jwk(rotated_key(), kid_2)}));
    expect_unauthorized(verifier_.verify(rotated), "unknown kid");
    EXPECT_EQ(endpoint_.calls(), 1);

    clock_.advance_s(60);
    auto const who = verifier_.verify(rotated);
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->user_id, sub);
    EXPECT_EQ(endpoint_.calls(), 2);
    EXPECT_TRUE(verifier_.verify(old_key).has_value()) << "the old key is still published";

    // The old key is withdrawn; once the cached set is older than max_key_age it is refreshed.
    endpoint_.serve(jwks_of({jwk(rotated_key(), kid_2)}));
    clock_.advance_s(3600);
    ASSERT_TRUE(verifier_.verify(rotated).has_value());
    EXPECT_EQ(endpoint_.calls(), 3) << "max-age refresh";
    expect_unauthorized(verifier_.verify(old_key), "unknown kid");
    EXPECT_EQ(endpoint_.calls(), 3) << "kid-1 unknown, but the interval has not passed";
}

TEST_F(CognitoTokenVerifier, FetchFailureKeepsOldKeys)
{
    auto const token = token_with(with("exp", now_s + 86400));
    ASSERT_TRUE(verifier_.verify(token).has_value());
    endpoint_.fail_with("connection refused");
    clock_.advance_s(61);
    expect_unauthorized(verifier_.verify(token_with(id_claims(), header_json(kid_2))), "unknown kid");
    EXPECT_EQ(endpoint_.calls(), 2);
    EXPECT_TRUE(verifier_.verify(token).has_value());

    // Also when the refresh is due to age.
    clock_.advance_s(3600);
    EXPECT_TRUE(verifier_.verify(token).has_value());
    EXPECT_EQ(endpoint_.calls(), 3);

    // A garbage document is a failure too.
    endpoint_.serve("<html>oops</html>");
    clock_.advance_s(61);
    EXPECT_TRUE(verifier_.verify(token).has_value());
    EXPECT_EQ(endpoint_.calls(), 4);
}

TEST_F(CognitoTokenVerifier, NoKeysEverLoadedIsUnavailableAndRateLimited)
{
    endpoint_.fail_with("connection refused");
    auto const first = verifier_.verify(valid_token());
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, errc::unavailable);
    EXPECT_NE(first.error().detail.find("connection refused"), std::string::npos) << first.error().detail;
    EXPECT_EQ(endpoint_.calls(), 1);

    auto const second = verifier_.verify(valid_token());
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, errc::unavailable);
    EXPECT_EQ(endpoint_.calls(), 1) << "no retry within the interval";

    endpoint_.serve(jwks_of({jwk(pool_key(), kid_1)}));
    clock_.advance_s(60);
    EXPECT_TRUE(verifier_.verify(valid_token()).has_value());
    EXPECT_EQ(endpoint_.calls(), 2);
}

TEST_F(CognitoTokenVerifier, GarbageJwksIsUnavailable)
{
    for (std::string const document :
         {"", "not json", "{}", R"({"keys":[]})", R"({"keys":[{"kty":"RSA"}]})"}) {
        fake_jwks_endpoint endpoint;
        endpoint.serve(document);
        cognito_token_verifier verifier{settings_for(cognito_token_verifier::token_use::id), clock_,
                                        endpoint.fetcher()};
        auto const result = verifier.verify(valid_token());
        ASSERT_FALSE(result.has_value()) << document;
        EXPECT_EQ(result.error().code, errc::unavailable) << document;
        EXPECT_NE(result.error().detail.find("JWKS"), std::string::npos) << result.error().detail;
    }
}

TEST_F(CognitoTokenVerifier, JwksWithOnly1024BitKeyIsRefused)
{
    endpoint_.serve(jwks_of({jwk(weak_key(), kid_1)}));
    auto const result = verifier_.verify(mint(header_json(), id_claims().dump(), weak_key()));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, errc::unavailable);
    EXPECT_NE(result.error().detail.find("2048"), std::string::npos) << result.error().detail;
}

TEST_F(CognitoTokenVerifier, WeakKeyNextToGoodKeyIsSkipped)
{
    endpoint_.serve(jwks_of({jwk(weak_key(), "weak"), jwk(pool_key(), kid_1)}));
    EXPECT_TRUE(verifier_.verify(valid_token()).has_value());
    expect_unauthorized(verifier_.verify(mint(header_json("weak"), id_claims().dump(), weak_key())),
                        "unknown kid");
}

TEST_F(CognitoTokenVerifier, ThrowingFetchIsAFailureNotACrash)
{
    int calls = 0;
    cognito_token_verifier verifier{settings_for(cognito_token_verifier::token_use::id), clock_,
                                    [&calls]() -> stratus::result<std::string> {
                                        if (++calls == 1) {
                                            throw std::runtime_error("boom");
                                        }
                                        return jwks_of({jwk(pool_key(), kid_1)});
                                    }};
    auto const first = verifier.verify(valid_token());
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, errc::unavailable);
    EXPECT_NE(first.error().detail.find("boom"), std::string::npos);
    clock_.advance_s(60);
    EXPECT_TRUE(verifier.verify(valid_token()).has_value());
    EXPECT_EQ(calls, 2);
}

TEST_F(CognitoTokenVerifier, ConcurrentVerifiesShareOneFetchAndAgree)
{
    // A slow endpoint makes the threads meet the cold cache together.
    endpoint_.set_delay(std::chrono::milliseconds(50));
    std::string const good = valid_token();
    std::string const good_access = token_with(access_claims());
    std::string const tampered = flip(good, good.size() - 5);
    std::string const unknown_kid = token_with(id_claims(), header_json("bogus"));
    std::string const expired = token_with(with("exp", now_s - 3600));

    constexpr int threads = 8;
    constexpr int rounds = 40;
    std::atomic<int> wrong{0};
    std::atomic<int> accepted{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < rounds; ++i) {
                switch ((t + i) % 5) {
                case 0: {
                    auto const who = verifier_.verify(good);
                    if (!who || who->user_id != sub || who->name != "alice") {
                        ++wrong;
                    } else {
                        ++accepted;
                    }
                    break;
                }
                case 1:
                    wrong += verifier_.verify(good_access).has_value() ? 1 : 0; // id verifier
                    break;
                case 2:
                    wrong += verifier_.verify(tampered).has_value() ? 1 : 0;
                    break;
                case 3:
                    wrong += verifier_.verify(unknown_kid).has_value() ? 1 : 0;
                    break;
                default:
                    wrong += verifier_.verify(expired).has_value() ? 1 : 0;
                    break;
                }
            }
        });
    }
    for (auto& worker : workers) {
        worker.join();
    }
    EXPECT_EQ(wrong.load(), 0);
    EXPECT_EQ(accepted.load(), threads * rounds / 5);
    EXPECT_EQ(endpoint_.calls(), 1) << "single flight, and the unknown kid is rate-limited";
}

TEST_F(CognitoTokenVerifier, ConcurrentUnknownKidFloodFetchesOnce)
{
    ASSERT_TRUE(verifier_.verify(valid_token()).has_value());
    clock_.advance_s(61);
    endpoint_.set_delay(std::chrono::milliseconds(50));
    std::vector<std::string> bogus;
    for (int i = 0; i < 8; ++i) {
        bogus.push_back(token_with(id_claims(), header_json("bogus-" + std::to_string(i))));
    }
    std::atomic<int> accepted{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 8; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < 10; ++i) {
                accepted += verifier_.verify(bogus[static_cast<std::size_t>(t)]).has_value() ? 1 : 0;
                accepted += verifier_.verify(valid_token()).has_value() ? 0 : 1000; // must stay accepted
            }
        });
    }
    for (auto& worker : workers) {
        worker.join();
    }
    EXPECT_EQ(accepted.load(), 0);
    EXPECT_EQ(endpoint_.calls(), 2);
}

// ---------------------------------------------------------------------------
// The attack set: every row is refused with errc::unauthorized while the control
// token is accepted by the same verifier. Tokens are built inside the test, so
// that only the tests that run pay for key generation.
// ---------------------------------------------------------------------------

struct attack {
    std::string name;
    std::function<std::string()> token;
    /// Refused by the access-token verifier instead of the id-token one.
    bool access = false;
};

std::string repeat(std::string_view unit, std::size_t times)
{
    std::string out;
    for (std::size_t i = 0; i < times; ++i) {
        out += unit;
    }
    return out;
}

std::string duplicate_claim_payload(std::string const& claim, std::string const& first,
                                    std::string const& second)
{
    // Both values in the text; nlohmann would keep the last one.
    json claims = id_claims();
    claims.erase(claim);
    std::string text = claims.dump();
    text.insert(1, "\"" + claim + "\":\"" + first + "\",\"" + claim + "\":\"" + second + "\",");
    return text;
}

std::vector<attack> attacks()
{
    std::vector<attack> rows;
    auto add = [&rows](std::string name, std::function<std::string()> token, bool access = false) {
        rows.push_back({std::move(name), std::move(token), access});
    };
    auto payload_b64 = [] { return b64url(id_claims().dump()); };
    auto part = [](std::size_t index) { return split(valid_token()).at(index); };

    // alg none and its spellings (CVE-2015-2951 class).
    for (std::string alg : {"none", "None", "NONE", "nOnE"}) {
        add("alg_" + alg + "_empty_signature",
            [alg, payload_b64] { return b64url(header_json(kid_1, alg)) + "." + payload_b64() + "."; });
    }
    add("alg_none_original_signature", [payload_b64, part] {
        return b64url(header_json(kid_1, "none")) + "." + payload_b64() + "." + part(2);
    });
    add("alg_none_correctly_signed", [] { return mint(header_json(kid_1, "none"), id_claims().dump()); });

    // Key confusion: HS256 with the public key (PEM, raw modulus, JWKS text) as the HMAC secret.
    auto hs256_with = [](std::function<std::string()> secret) {
        return [secret] {
            std::string const input = signing_input(header_json(kid_1, "HS256"), id_claims().dump());
            return input + "." + b64url(hmac_sha256(secret(), input));
        };
    };
    add("hs256_public_key_pem_as_secret", hs256_with([] { return public_pem(pool_key()); }));
    add("hs256_modulus_as_secret", hs256_with([] { return rsa_param(pool_key(), OSSL_PKEY_PARAM_RSA_N); }));
    add("hs256_jwks_text_as_secret", hs256_with([] { return jwks_of({jwk(pool_key(), kid_1)}); }));

    // Other RSA algorithms with the right key: the verifier pins RS256.
    add("rs512_right_key",
        [] { return mint(header_json(kid_1, "RS512"), id_claims().dump(), pool_key(), EVP_sha512()); });
    add("rs384_right_key",
        [] { return mint(header_json(kid_1, "RS384"), id_claims().dump(), pool_key(), EVP_sha384()); });
    add("ps256_right_key", [] {
        return mint(header_json(kid_1, "PS256"), id_claims().dump(), pool_key(), EVP_sha256(),
                    RSA_PKCS1_PSS_PADDING);
    });
    add("rs256_header_pss_signature", [] {
        return mint(header_json(), id_claims().dump(), pool_key(), EVP_sha256(), RSA_PKCS1_PSS_PADDING);
    });
    add("rs256_header_sha512_signature",
        [] { return mint(header_json(), id_claims().dump(), pool_key(), EVP_sha512()); });
    add("alg_lowercase", [] { return mint(header_json(kid_1, "rs256"), id_claims().dump()); });
    add("alg_with_nul", [] { return mint(R"({"kid":"kid","alg":"RS256\u0000x"})", id_claims().dump()); });
    add("alg_missing", [] { return mint(R"({"kid":")" + std::string(kid_1) + R"("})", id_claims().dump()); });
    add("alg_not_a_string",
        [] { return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":256})", id_claims().dump()); });
    add("alg_duplicated_in_header", [] {
        return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":"none","alg":"RS256"})",
                    id_claims().dump());
    });
    add("kid_duplicated_in_header", [] {
        return mint(R"({"kid":"bogus","kid":")" + std::string(kid_1) + R"(","alg":"RS256"})",
                    id_claims().dump());
    });
    add("kid_missing", [] { return mint(R"({"alg":"RS256"})", id_claims().dump()); });
    add("kid_not_a_string", [] { return mint(R"({"kid":1,"alg":"RS256"})", id_claims().dump()); });
    add("kid_empty", [] { return mint(header_json(""), id_claims().dump()); });
    add("crit_header", [] {
        return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":"RS256","crit":["exp"]})",
                    id_claims().dump());
    });
    add("typ_foo", [] {
        return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":"RS256","typ":"foo"})",
                    id_claims().dump());
    });
    add("header_too_large", [] {
        return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":"RS256","x":")" + std::string(1100, 'x') +
                        "\"}",
                    id_claims().dump());
    });
    add("header_nested", [] {
        return mint(R"({"kid":")" + std::string(kid_1) + R"(","alg":"RS256","x":[[[[[1]]]]]})",
                    id_claims().dump());
    });
    add("header_not_json", [] { return mint("{kid:1,alg:RS256}", id_claims().dump()); });

    // Signatures.
    add("signed_by_attacker_key_with_pool_kid",
        [] { return mint(header_json(), id_claims().dump(), attacker_key()); });
    add("signature_one_char_flipped", [part] { return part(0) + "." + part(1) + "." + flip(part(2), 10); });
    add("signature_stripped", [part] { return part(0) + "." + part(1) + "."; });
    add("signature_truncated", [part] { return part(0) + "." + part(1) + "." + part(2).substr(0, 340); });
    add("signature_extended", [part] { return part(0) + "." + part(1) + "." + part(2) + "AAAA"; });
    add("only_two_segments", [part] { return part(0) + "." + part(1); });
    add("four_segments", [] { return valid_token() + ".x"; });

    // Payload changed after signing (original signature kept).
    add("tampered_sub",
        [part] { return part(0) + "." + b64url(with("sub", "admin").dump()) + "." + part(2); });
    add("tampered_exp",
        [part] { return part(0) + "." + b64url(with("exp", now_s + 999999).dump()) + "." + part(2); });

    // Duplicate claims, correctly signed.
    add("duplicate_sub",
        [] { return mint(header_json(), duplicate_claim_payload("sub", "victim", std::string(sub))); });
    add("duplicate_aud",
        [] { return mint(header_json(), duplicate_claim_payload("aud", "other", std::string(client_id))); });
    add("duplicate_iss", [] { return mint(header_json(), duplicate_claim_payload("iss", "x", issuer())); });
    add("duplicate_token_use",
        [] { return mint(header_json(), duplicate_claim_payload("token_use", "access", "id")); });

    // Issuer, audience / client, token_use.
    add("wrong_iss",
        [] { return token_with(with("iss", "https://cognito-idp.eu-west-1.amazonaws.com/other")); });
    add("iss_trailing_slash", [] { return token_with(with("iss", issuer() + "/")); });
    add("iss_other_region",
        [] { return token_with(with("iss", cognito_token_verifier::issuer_for("us-east-1", pool_id))); });
    add("missing_iss", [] { return token_with(without("iss")); });
    add("wrong_aud", [] { return token_with(with("aud", "someoneelsesclient")); });
    add("aud_as_array", [] { return token_with(with("aud", json::array({client_id}))); });
    add("missing_aud", [] { return token_with(without("aud")); });
    add("id_token_with_client_id_only",
        [] { return token_with(with(without("aud"), "client_id", client_id)); });
    add("access_token_to_id_verifier", [] { return token_with(access_claims()); });
    add("token_use_missing", [] { return token_with(without("token_use")); });
    add("token_use_Id", [] { return token_with(with("token_use", "Id")); });
    add(
        "wrong_client_id", [] { return token_with(with(access_claims(), "client_id", "nope")); }, true);
    add(
        "access_missing_client_id", [] { return token_with(without("client_id", access_claims())); }, true);
    add(
        "access_with_aud_only",
        [] { return token_with(with(without("client_id", access_claims()), "aud", client_id)); }, true);
    add(
        "id_token_to_access_verifier", [] { return token_with(id_claims()); }, true);

    // Time.
    add("expired_beyond_leeway", [] { return token_with(with("exp", now_s - 61)); });
    add("expired_long_ago", [] { return token_with(with("exp", 1)); });
    add("missing_exp", [] { return token_with(without("exp")); });
    add("exp_as_string", [] { return token_with(with("exp", "9999999999")); });
    add("exp_fractional", [] { return token_with(with("exp", static_cast<double>(now_s) + 3600.5)); });
    add("exp_uint64_max", [] { return token_with(with("exp", UINT64_MAX)); });
    add("exp_negative", [] { return token_with(with("exp", -1)); });
    add("iat_in_future", [] { return token_with(with("iat", now_s + 3600)); });
    add("missing_iat", [] { return token_with(without("iat")); });
    add("iat_as_string", [] { return token_with(with("iat", "1699999990")); });
    add("nbf_in_future", [] { return token_with(with("nbf", now_s + 3600)); });
    add("nbf_null", [] { return token_with(with("nbf", nullptr)); });

    // Subject.
    add("missing_sub", [] { return token_with(without("sub")); });
    add("sub_is_number", [] { return token_with(with("sub", 42)); });
    add("sub_empty", [] { return token_with(with("sub", "")); });
    add("sub_path_chars", [] { return token_with(with("sub", "../admin")); });
    add("sub_too_long", [] { return token_with(with("sub", std::string(65, 'a'))); });

    // Shapes that are not a signed JSON object.
    add("payload_is_array", [] { return mint(header_json(), "[1,2,3]"); });
    add("payload_not_json", [] { return mint(header_json(), "not json"); });
    add("payload_deeply_nested",
        [] { return mint(header_json(), R"({"x":)" + repeat("[", 100) + repeat("]", 100) + "}"); });
    add("token_just_over_8_kib", [] { return token_with(with("pad", std::string(8 * 1024, 'x'))); });
    add("token_100_kib", [] { return token_with(with("pad", std::string(100 * 1024, 'x'))); });

    // Garbage.
    add("empty", [] { return std::string(); });
    add("abc", [] { return std::string("abc"); });
    add("a_dot_b_dot_c", [] { return std::string("a.b.c"); });
    add("two_dots", [] { return std::string(".."); });
    add("leading_space", [] { return " " + valid_token(); });
    add("trailing_newline", [] { return valid_token() + "\n"; });
    add("nul_inside", [part] { return part(0) + std::string(1, '\0') + "." + part(1) + "." + part(2); });

    // Non-canonical base64url.
    add("padding_on_header", [part] { return part(0) + "=." + part(1) + "." + part(2); });
    add("padding_on_signature", [] { return valid_token() + "=="; });
    add("plus_in_payload",
        [part] { return part(0) + "." + part(1).substr(0, 5) + "+" + part(1).substr(6) + "." + part(2); });
    add("slash_in_signature",
        [part] { return part(0) + "." + part(1) + "." + part(2).substr(0, 5) + "/" + part(2).substr(6); });
    add("signature_nonzero_trailing_bits", [part] {
        // 256 bytes -> 342 characters; the last one carries 4 unused bits.
        std::string sig = part(2);
        sig.back() = static_cast<char>(sig.back() + 1);
        return part(0) + "." + part(1) + "." + sig;
    });
    add("header_nonzero_trailing_bits_signed", [part] {
        // Signed over that very text: the signature matches, the encoding is not canonical.
        // 3k + 1 bytes -> the last character carries 4 unused bits.
        std::string text = header_json();
        while (text.size() % 3 != 1) {
            text += ' ';
        }
        std::string header = b64url(text);
        header.back() = static_cast<char>(header.back() + 1);
        return sign_input(header + "." + part(1));
    });
    return rows;
}

void PrintTo(attack const& row, std::ostream* out)
{
    *out << row.name;
}

class CognitoTokenVerifierAttack : public ::testing::TestWithParam<attack>, protected verifier_fixture {};

TEST_P(CognitoTokenVerifierAttack, IsRefusedWhileControlIsAccepted)
{
    auto& verifier = GetParam().access ? access_verifier_ : verifier_;
    auto const control = verifier.verify(GetParam().access ? token_with(access_claims()) : valid_token());
    ASSERT_TRUE(control.has_value()) << control.error().detail;

    auto const result = verifier.verify(GetParam().token());
    ASSERT_FALSE(result.has_value()) << "accepted as " << result->user_id;
    EXPECT_EQ(result.error().code, errc::unauthorized) << result.error().detail;
    EXPECT_FALSE(result.error().detail.empty());
    RecordProperty("reason", result.error().detail);
}

INSTANTIATE_TEST_SUITE_P(AttackSet, CognitoTokenVerifierAttack, ::testing::ValuesIn(attacks()),
                         [](::testing::TestParamInfo<attack> const& row) { return row.param.name; });

} // namespace
