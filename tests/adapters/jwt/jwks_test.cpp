#include "adapters/jwt/jwks.hpp"

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

namespace {

using nlohmann::json;
using stratus::errc;
using stratus::jwks;

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

// Generated once per process, on first use (ctest runs every test in its own process).
EVP_PKEY* key_2048()
{
    static pkey_ptr const key = generate_rsa(2048);
    return key.get();
}

EVP_PKEY* other_key_2048()
{
    static pkey_ptr const key = generate_rsa(2048);
    return key.get();
}

EVP_PKEY* key_1024()
{
    static pkey_ptr const key = generate_rsa(1024);
    return key.get();
}

// Independent of the code under test: OpenSSL's base64, then the URL alphabet without padding.
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

/// The big-endian bytes of an RSA parameter (n or e) of `key`.
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

json jwk(EVP_PKEY* key, std::string const& kid)
{
    return json{{"alg", "RS256"}, {"e", b64url(rsa_param(key, OSSL_PKEY_PARAM_RSA_E))}, {"kid", kid},
                {"kty", "RSA"},   {"n", b64url(rsa_param(key, OSSL_PKEY_PARAM_RSA_N))}, {"use", "sig"}};
}

json jwk_with(std::string const& member, json value)
{
    json key = jwk(key_2048(), "k1");
    key[member] = std::move(value);
    return key;
}

std::string document(std::initializer_list<json> keys)
{
    json array = json::array();
    for (auto const& key : keys) {
        array.push_back(key);
    }
    return json{{"keys", array}}.dump();
}

std::string sign(EVP_PKEY* key, std::string_view input, EVP_MD const* md = EVP_sha256(),
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

void expect_refused(std::string const& text, std::string_view reason_part = {})
{
    auto const set = jwks::parse(text);
    ASSERT_FALSE(set.has_value()) << "accepted with " << set->size() << " keys";
    EXPECT_EQ(set.error().code, errc::invalid_request);
    EXPECT_NE(set.error().detail.find(reason_part), std::string::npos) << set.error().detail;
}

// ---------------------------------------------------------------------------
// Accepted sets
// ---------------------------------------------------------------------------

TEST(Jwks, ParsesCognitoShapedSet)
{
    auto const set = jwks::parse(document({jwk(key_2048(), "kid-a"), jwk(other_key_2048(), "kid-b")}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    EXPECT_EQ(set->size(), 2U);
    EXPECT_TRUE(set->contains("kid-a"));
    EXPECT_TRUE(set->contains("kid-b"));
    EXPECT_FALSE(set->contains("kid-c"));
    EXPECT_EQ(set->kids(), (std::vector<std::string>{"kid-a", "kid-b"}));
    EXPECT_TRUE(set->skipped().empty());
}

TEST(Jwks, AcceptsKeysWithoutAlgAndUse)
{
    json key = jwk(key_2048(), "k1");
    key.erase("alg");
    key.erase("use");
    auto const set = jwks::parse(document({key}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    EXPECT_TRUE(set->contains("k1"));
}

TEST(Jwks, AcceptsKeyOpsWithVerify)
{
    auto const set = jwks::parse(document({jwk_with("key_ops", json::array({"verify"}))}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
}

TEST(Jwks, VerifiesRs256SignaturesOfItsKeys)
{
    auto const set = jwks::parse(document({jwk(key_2048(), "kid-a"), jwk(other_key_2048(), "kid-b")}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    std::string const input = "header.payload";
    std::string const signature = sign(key_2048(), input);
    EXPECT_TRUE(set->verify_rs256("kid-a", input, signature));
    EXPECT_FALSE(set->verify_rs256("kid-b", input, signature)) << "another key";
    EXPECT_FALSE(set->verify_rs256("kid-c", input, signature)) << "unknown kid";
    EXPECT_FALSE(set->verify_rs256("kid-a", "header.payloaD", signature)) << "other input";
    std::string flipped = signature;
    flipped[100] = static_cast<char>(flipped[100] ^ 1);
    EXPECT_FALSE(set->verify_rs256("kid-a", input, flipped));
    EXPECT_FALSE(set->verify_rs256("kid-a", input, signature.substr(1)));
    EXPECT_FALSE(set->verify_rs256("kid-a", input, std::string(1, '\0') + signature));
    EXPECT_FALSE(set->verify_rs256("kid-a", input, ""));
    EXPECT_FALSE(set->verify_rs256("kid-a", input, sign(key_2048(), input, EVP_sha512()))) << "RS512";
    EXPECT_FALSE(set->verify_rs256("kid-a", input, sign(key_2048(), input, EVP_sha1()))) << "RS1";
    EXPECT_FALSE(
        set->verify_rs256("kid-a", input, sign(key_2048(), input, EVP_sha256(), RSA_PKCS1_PSS_PADDING)))
        << "PS256";
}

TEST(Jwks, AcceptsAKeyAtTheLargestModulus)
{
    pkey_ptr const big = generate_rsa(static_cast<unsigned int>(jwks::max_modulus_bits));
    auto const set = jwks::parse(document({jwk(big.get(), "big")}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    EXPECT_TRUE(set->verify_rs256("big", "x", sign(big.get(), "x")));
}

TEST(Jwks, CopiesShareKeysAndOutliveTheOriginal)
{
    std::optional<jwks> copy;
    {
        auto const set = jwks::parse(document({jwk(key_2048(), "kid-a")}));
        ASSERT_TRUE(set.has_value()) << set.error().detail;
        copy = *set;
    }
    EXPECT_TRUE(copy->verify_rs256("kid-a", "x", sign(key_2048(), "x")));
}

// ---------------------------------------------------------------------------
// Keys that are skipped, not fatal
// ---------------------------------------------------------------------------

TEST(Jwks, SkipsKeysNotForRs256SignaturesButKeepsTheRest)
{
    json ec_key = {{"kty", "EC"}, {"crv", "P-256"}, {"kid", "ec"}, {"x", "AA"}, {"y", "AA"}};
    json oct_key = {{"kty", "oct"}, {"kid", "oct"}, {"k", "c2VjcmV0"}};
    json rs512 = jwk(other_key_2048(), "rs512");
    rs512["alg"] = "RS512";
    json enc = jwk(other_key_2048(), "enc");
    enc["use"] = "enc";
    json wrap = jwk(other_key_2048(), "wrap");
    wrap.erase("use");
    wrap["key_ops"] = json::array({"wrapKey"});
    json no_kid = jwk(other_key_2048(), "x");
    no_kid.erase("kid");
    json numeric_kid = jwk(other_key_2048(), "x");
    numeric_kid["kid"] = 7;
    json weak = jwk(key_1024(), "weak");

    auto const set = jwks::parse(
        document({ec_key, oct_key, rs512, enc, wrap, no_kid, numeric_kid, weak, jwk(key_2048(), "good")}));
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    EXPECT_EQ(set->kids(), (std::vector<std::string>{"good"}));
    EXPECT_EQ(set->skipped().size(), 8U);
    EXPECT_FALSE(set->contains("weak"));
    EXPECT_FALSE(set->contains("rs512"));
    EXPECT_FALSE(set->contains("enc"));
}

TEST(Jwks, RefusesSetWhoseOnlyKeyIs1024Bits)
{
    expect_refused(document({jwk(key_1024(), "weak")}), "modulus below 2048 bits");
}

TEST(Jwks, RefusesSetWithNoUsableKey)
{
    json enc = jwk(key_2048(), "enc");
    enc["use"] = "enc";
    expect_refused(document({enc}), "no usable RS256 key");
    expect_refused(document({}), "no keys");
}

struct bad_key {
    char const* name;
    json key;
    /// Part of the skip reason.
    char const* reason;
};

/// Every row alone makes the set unusable: the key is skipped, and it was the only one.
std::vector<bad_key> bad_keys()
{
    std::string const n = rsa_param(key_2048(), OSSL_PKEY_PARAM_RSA_N);
    std::string const n_b64 = b64url(n);
    std::string even_n = n;
    even_n.back() = static_cast<char>(even_n.back() & ~1);
    std::string n_bits_set = n_b64; // 256 bytes -> 342 chars, 4 unused bits in the last one
    n_bits_set.back() = static_cast<char>(n_bits_set.back() + 1);
    return {
        {"n_padded", jwk_with("n", n_b64 + "=="), "not canonical base64url"},
        {"n_plus", jwk_with("n", "+" + n_b64.substr(1)), "not canonical base64url"},
        {"n_trailing_bits", jwk_with("n", n_bits_set), "not canonical base64url"},
        {"n_leading_zero", jwk_with("n", b64url(std::string(1, '\0') + n)), "leading zero"},
        {"n_even", jwk_with("n", b64url(even_n)), "modulus is even"},
        {"n_missing",
         [] {
             json key = jwk(key_2048(), "k1");
             key.erase("n");
             return key;
         }(),
         "n or e missing"},
        {"n_number", jwk_with("n", 65537), "n or e missing"},
        {"n_empty", jwk_with("n", ""), "not canonical base64url"},
        {"n_4103_bits", jwk_with("n", b64url(std::string(513, '\x7f'))), "modulus above 4096 bits"},
        {"n_8199_bits", jwk_with("n", b64url(std::string(1025, '\x7f'))), "modulus above 4096 bits"},
        {"e_even", jwk_with("e", b64url(std::string("\x01\x00\x00", 3))), "exponent is even or below 65537"},
        {"e_3", jwk_with("e", b64url("\x03")), "exponent is even or below 65537"},
        {"e_1", jwk_with("e", b64url("\x01")), "exponent is even or below 65537"},
        {"e_leading_zero", jwk_with("e", b64url(std::string("\x00\x01\x00\x01", 4))), "leading zero"},
        {"e_too_long", jwk_with("e", b64url(std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x01", 9))),
         "exponent too long"},
        {"e_padded", jwk_with("e", "AQAB="), "not canonical base64url"},
        {"kid_empty", jwk_with("kid", ""), "kid missing"},
        {"kid_too_long", jwk_with("kid", std::string(257, 'k')), "kid missing"},
        {"kty_lowercase", jwk_with("kty", "rsa"), "kty is not RSA"},
        {"alg_not_string", jwk_with("alg", 256), "alg is not RS256"},
        {"use_enc", jwk_with("use", "enc"), "use is not sig"},
        // Odd and 2048 bits, but 2^2048 - 1 is divisible by 3: OpenSSL's public key check.
        {"n_small_factor", jwk_with("n", b64url(std::string(256, '\xff'))), "public key check"},
        {"key_ops_not_array", jwk_with("key_ops", "verify"), "key_ops lacks verify"},
    };
}

TEST(Jwks, SkipsEveryMalformedOrWeakKey)
{
    for (auto const& row : bad_keys()) {
        SCOPED_TRACE(row.name);
        expect_refused(document({row.key}), row.reason);
        // ...and only that key: a good one next to it still works.
        auto const set = jwks::parse(document({row.key, jwk(other_key_2048(), "good")}));
        ASSERT_TRUE(set.has_value()) << set.error().detail;
        EXPECT_EQ(set->kids(), (std::vector<std::string>{"good"}));
        ASSERT_EQ(set->skipped().size(), 1U);
        EXPECT_NE(set->skipped()[0].find(row.reason), std::string::npos) << set->skipped()[0];
    }
}

// ---------------------------------------------------------------------------
// Documents that are refused as a whole
// ---------------------------------------------------------------------------

TEST(Jwks, RefusesGarbage)
{
    std::string const good = document({jwk(key_2048(), "k1")});
    expect_refused("");
    expect_refused("not json");
    expect_refused("<html>502 Bad Gateway</html>");
    expect_refused("null");
    expect_refused("[]");
    expect_refused("{}", "no keys array");
    expect_refused(R"({"keys":{}})", "no keys array");
    expect_refused(R"({"keys":"k1"})", "no keys array");
    expect_refused(R"({"keys":[1]})", "not a JSON object");
    expect_refused(R"({"keys":[null]})", "not a JSON object");
    expect_refused(good.substr(0, good.size() - 1), "not valid JSON");
    expect_refused(good + "x", "not valid JSON");
    expect_refused(std::string(good).insert(1, std::string(1, '\0')));
    expect_refused(R"({"keys":[],"x":)" + std::string(100, '[') + std::string(100, ']') + "}", "nests");
    expect_refused(std::string("\xff\xfe") + good);
}

TEST(Jwks, RefusesDuplicateMemberNames)
{
    std::string const key = jwk(key_2048(), "k1").dump();
    expect_refused(R"({"keys":[],"keys":[)" + key + "]}", "duplicate");
    // A second n inside the key: which one would another parser pick?
    std::string twice = key;
    twice.insert(1, R"("n":"AQAB",)");
    expect_refused(R"({"keys":[)" + twice + "]}", "duplicate");
}

TEST(Jwks, RefusesTwoUsableKeysWithTheSameKid)
{
    expect_refused(document({jwk(key_2048(), "same"), jwk(other_key_2048(), "same")}), "two keys");
}

TEST(Jwks, RefusesMoreThan32Keys)
{
    json keys = json::array();
    json const key = jwk(key_2048(), "k");
    for (int i = 0; i < 33; ++i) {
        json entry = key;
        entry["kid"] = "k" + std::to_string(i);
        keys.push_back(entry);
    }
    expect_refused(json{{"keys", keys}}.dump(), "more than 32");
    keys.erase(keys.begin());
    auto const set = jwks::parse(json{{"keys", keys}}.dump());
    ASSERT_TRUE(set.has_value()) << set.error().detail;
    EXPECT_EQ(set->size(), 32U);
}

TEST(Jwks, RefusesDocumentsOver64KiB)
{
    json doc = json{{"keys", json::array({jwk(key_2048(), "k1")})}};
    std::string const base = doc.dump();
    // `,"pad":""` adds 9 characters to the dump (members are sorted: "keys" < "pad").
    doc["pad"] = std::string(jwks::max_document_bytes - base.size() - 9, 'x');
    std::string const at_limit = doc.dump();
    ASSERT_EQ(at_limit.size(), jwks::max_document_bytes);
    EXPECT_TRUE(jwks::parse(at_limit).has_value());
    expect_refused(at_limit + " ", "64 KiB");
}

} // namespace
