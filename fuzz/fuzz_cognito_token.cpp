// Cognito RS256 tokens -> cognito_token_verifier (production $connect), with
// the JWKS served from memory. The key pair is generated at start-up (no
// private key is committed), so an input is either a whole token (tokens from
// the corpus are shaped but not validly signed), or
// "<header JSON>\0<payload JSON>[\0hmac]" which the harness signs: RS256 with
// the JWKS key, or, with "hmac", HS256 keyed with the public modulus (the
// algorithm-confusion attack). Oracles, on every accepted token:
// - OpenSSL, called here, verifies its RS256 signature under the JWKS key it names;
// - its claims are the configured issuer, token_use and client, and in time;
// - every one-character change of it is refused;
// - the identity is a valid user id and display name.

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "adapters/jwt/cognito_token_verifier.hpp"
#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"

namespace {

using json = nlohmann::json;
using stratus::fuzz::expect;

constexpr std::string_view issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_FuzzPool";
constexpr std::string_view client_id = "fuzzclient1";
constexpr std::string_view kid = "fuzz-key-1";

std::string bn_param(EVP_PKEY* key, char const* name)
{
    BIGNUM* bn = nullptr;
    expect(EVP_PKEY_get_bn_param(key, name, &bn) == 1, "read an RSA parameter");
    std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
    BN_free(bn);
    return bytes;
}

struct fixture {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), EVP_PKEY_free};
    std::string modulus = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N);
    std::string document =
        json{{"keys",
              {{{"kty", "RSA"},
                {"kid", kid},
                {"alg", "RS256"},
                {"use", "sig"},
                {"n", stratus::fuzz::base64url(modulus)},
                {"e", stratus::fuzz::base64url(bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E))}}}}}
            .dump();
    stratus::fuzz::fixed_clock clock;
    stratus::cognito_token_verifier id_tokens{settings(stratus::cognito_token_verifier::token_use::id), clock,
                                              [this] { return stratus::result<std::string>(document); }};
    stratus::cognito_token_verifier access_tokens{
        settings(stratus::cognito_token_verifier::token_use::access), clock,
        [this] { return stratus::result<std::string>(document); }};

    static stratus::cognito_token_verifier::settings settings(stratus::cognito_token_verifier::token_use use)
    {
        stratus::cognito_token_verifier::settings s;
        s.issuer = std::string(issuer);
        s.client_ids = {std::string(client_id), "fuzzclient2"};
        s.use = use;
        return s;
    }
};

fixture& the_fixture()
{
    static fixture f;
    expect(f.key != nullptr, "RSA key generated");
    return f;
}

std::string rs256_sign(std::string_view input)
{
    auto& f = the_fixture();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    std::size_t length = 0;
    expect(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, f.key.get()) == 1 &&
               EVP_DigestSign(ctx.get(), nullptr, &length,
                              reinterpret_cast<unsigned char const*>(input.data()), input.size()) == 1,
           "RS256 sign init");
    std::string signature(length, '\0');
    expect(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                          reinterpret_cast<unsigned char const*>(input.data()), input.size()) == 1,
           "RS256 sign");
    signature.resize(length);
    return signature;
}

bool rs256_verify(std::string_view input, std::string_view signature)
{
    auto& f = the_fixture();
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, f.key.get()) == 1 &&
           EVP_DigestVerify(ctx.get(), reinterpret_cast<unsigned char const*>(signature.data()),
                            signature.size(), reinterpret_cast<unsigned char const*>(input.data()),
                            input.size()) == 1;
}

void check_accepted(stratus::cognito_token_verifier& verifier, bool id_token, std::string_view token,
                    stratus::identity const& who)
{
    expect(stratus::hs256_token_verifier::is_valid_user_id(who.user_id), "accepted: valid user id (sub)");
    expect(stratus::validate_name(who.name).has_value(), "accepted: valid display name");
    auto const first = token.find('.');
    auto const second = token.rfind('.');
    auto const signature = stratus::decode_canonical_base64url(token.substr(second + 1));
    expect(signature && rs256_verify(token.substr(0, second), *signature),
           "accepted: OpenSSL verifies the RS256 signature");
    auto const header =
        json::parse(stratus::decode_canonical_base64url(token.substr(0, first)).value_or(""), nullptr, false);
    expect(header.is_object() && header.contains("alg") && header.at("alg") == "RS256" &&
               header.contains("kid") && header.at("kid") == kid,
           "accepted: alg RS256 and the JWKS kid");
    auto const p = json::parse(
        stratus::decode_canonical_base64url(token.substr(first + 1, second - first - 1)).value_or(""),
        nullptr, false);
    expect(p.is_object(), "accepted: the payload is an object");
    auto const claim = [&p](char const* name) { return p.contains(name) ? p.at(name) : json(); };
    expect(claim("iss") == issuer, "accepted: the configured issuer");
    expect(claim("token_use") == (id_token ? "id" : "access"), "accepted: the configured token_use");
    auto const client = claim(id_token ? "aud" : "client_id");
    expect(client == client_id || client == "fuzzclient2", "accepted: a configured client");
    auto const now = stratus::fuzz::fixed_clock::now_s;
    expect(claim("exp").is_number_integer() && now < claim("exp").get<std::int64_t>() + 60,
           "accepted: not expired");
    expect(claim("iat").is_number_integer() && claim("iat").get<std::int64_t>() <= now + 60,
           "accepted: not issued in the future");
    expect(claim("sub") == who.user_id, "accepted: the user id is sub");

    std::string mutated(token);
    for (std::size_t k = 0; k < 4; ++k) {
        auto const at = (k * 7919 + token.size() / 5) % token.size();
        auto const original = mutated[at];
        for (char replacement : {'A', '.'}) {
            if (replacement != original) {
                mutated[at] = replacement;
                expect(!verifier.verify(mutated), "a one-character change is refused");
            }
        }
        mutated[at] = original;
    }
}

void verify(std::string_view token)
{
    auto& f = the_fixture();
    for (bool const id_token : {true, false}) {
        auto& verifier = id_token ? f.id_tokens : f.access_tokens;
        auto const who = verifier.verify(token);
        if (!who) {
            expect(who.error().code == stratus::errc::unauthorized, "a refused token is unauthorized");
            continue;
        }
        check_accepted(verifier, id_token, token, *who);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const parts = stratus::fuzz::split_parts(stratus::fuzz::as_text(data, size));
    if (parts.size() == 1) {
        verify(parts[0]);
        return 0;
    }
    auto const input = stratus::fuzz::base64url(parts[0]) + "." + stratus::fuzz::base64url(parts[1]);
    std::string signature;
    if (parts.size() > 2 && parts[2] == "hmac") {
        auto const& key = the_fixture().modulus;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<unsigned char const*>(input.data()), input.size(), mac, &length);
        signature.assign(reinterpret_cast<char const*>(mac), length);
    } else if (input.size() <= stratus::cognito_token_verifier::max_token_bytes) {
        signature = rs256_sign(input);
    } else {
        signature = "too large to be accepted; not worth an RSA signature";
    }
    verify(input + "." + stratus::fuzz::base64url(signature));
    return 0;
}
