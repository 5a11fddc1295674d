// HS256 dev tokens -> hs256_token_verifier (the local stack's $connect).
// Input: a whole token, or "<header JSON>\0<payload JSON>[\0<name>]" which the
// harness signs with the verifier's own secret so that the claim checks behind
// the MAC are reached. Oracles, on every accepted token:
// - its signature is HMAC-SHA256(secret, header.payload), recomputed here with
//   OpenSSL, its header says alg HS256 and its claims are in time;
// - every one-character change of it is refused, and a verifier with another
//   secret refuses it;
// - the identity is a valid user id and display name.
// And hs256_token_issuer's tokens for a valid name verify to that identity.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/hs256_token_issuer.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"

namespace {

using json = nlohmann::json;
using stratus::fuzz::expect;

constexpr std::string_view secret = "fuzz-only-secret-not-used-anywhere-else-0123456789";
constexpr std::string_view other_secret = "fuzz-only-other-secret-not-used-anywhere-0123456789";
constexpr std::string_view issuer_name = "stratus-local";
constexpr std::string_view audience = "stratus";

std::string hmac_sha256(std::string_view key, std::string_view message)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    auto const* out =
        HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<unsigned char const*>(message.data()), message.size(), mac, &length);
    expect(out != nullptr, "HMAC computes");
    return {reinterpret_cast<char const*>(mac), length};
}

struct fixture {
    stratus::fuzz::fixed_clock clock;
    stratus::hs256_token_verifier verifier{std::string(secret), std::string(issuer_name),
                                           std::string(audience), clock};
    stratus::hs256_token_verifier other{std::string(other_secret), std::string(issuer_name),
                                        std::string(audience), clock};
    stratus::hs256_token_issuer issuer{std::string(secret), std::string(issuer_name), std::string(audience)};
};

fixture& the_fixture()
{
    static fixture f;
    return f;
}

// The signed claims of an accepted token, checked without the verifier's code.
void check_accepted(std::string_view token, stratus::identity const& who)
{
    auto& f = the_fixture();
    expect(stratus::hs256_token_verifier::is_valid_user_id(who.user_id), "accepted: valid user id");
    expect(stratus::validate_name(who.name).has_value(), "accepted: valid display name");

    auto const first = token.find('.');
    auto const second = token.rfind('.');
    expect(first != std::string_view::npos && second != first, "accepted: three segments");
    auto const signature = stratus::decode_canonical_base64url(token.substr(second + 1));
    expect(signature && *signature == hmac_sha256(secret, token.substr(0, second)),
           "accepted: the signature is HMAC-SHA256 under the secret");
    auto const header = stratus::decode_canonical_base64url(token.substr(0, first));
    auto const payload = stratus::decode_canonical_base64url(token.substr(first + 1, second - first - 1));
    expect(header && payload, "accepted: canonical base64url");
    auto const h = json::parse(*header, nullptr, false);
    expect(h.is_object() && h.contains("alg") && h.at("alg") == "HS256", "accepted: alg is HS256");
    auto const p = json::parse(*payload, nullptr, false);
    expect(p.is_object(), "accepted: the payload is an object");
    auto const claim = [&p](char const* name) { return p.contains(name) ? p.at(name) : json(); };
    auto const date = [&claim](char const* name) {
        auto const value = claim(name);
        expect(value.is_number_integer(), "accepted: integer exp, iat and nbf");
        return value.get<std::int64_t>();
    };
    auto const now = stratus::fuzz::fixed_clock::now_s;
    auto const leeway = stratus::hs256_token_verifier::leeway_s;
    expect(now < date("exp") + leeway, "accepted: not expired");
    expect(date("nbf") <= now + leeway && date("iat") <= now + leeway, "accepted: not from the future");
    expect(claim("iss") == issuer_name && claim("aud") == audience, "accepted: our issuer and audience");
    expect(claim("sub") == who.user_id && claim("name") == who.name, "accepted: the identity is the claims'");

    expect(!f.other.verify(token), "another secret refuses the token");
    // One-character changes at a few positions spread over the token.
    std::string mutated(token);
    for (std::size_t k = 0; k < 6; ++k) {
        auto const at = (k * 7919 + token.size() / 3) % token.size();
        auto const original = mutated[at];
        for (char replacement : {'A', '_', '.', 'x'}) {
            if (replacement == original) {
                continue;
            }
            mutated[at] = replacement;
            expect(!f.verifier.verify(mutated), "a one-character change is refused");
        }
        mutated[at] = original;
    }
}

void verify(std::string_view token)
{
    auto const who = the_fixture().verifier.verify(token);
    if (!who) {
        expect(who.error().code == stratus::errc::unauthorized, "a refused token is unauthorized");
        return;
    }
    check_accepted(token, *who);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const parts = stratus::fuzz::split_parts(stratus::fuzz::as_text(data, size));
    if (parts.size() == 1) {
        verify(parts[0]);
        return 0;
    }
    // Structured: sign header.payload with the verifier's secret.
    auto const signing_input = stratus::fuzz::base64url(parts[0]) + "." + stratus::fuzz::base64url(parts[1]);
    verify(signing_input + "." + stratus::fuzz::base64url(hmac_sha256(secret, signing_input)));

    if (parts.size() > 2) {
        // The issuer's tokens round-trip through the verifier.
        auto& f = the_fixture();
        stratus::identity who{stratus::hs256_token_issuer::dev_user_id(secret, parts[2]),
                              std::string(parts[2])};
        auto const token = f.issuer.issue(who, stratus::fuzz::fixed_clock::now_s, 3600);
        expect(token.has_value() == stratus::validate_name(who.name).has_value(),
               "the issuer signs valid names only");
        if (token) {
            auto const back = f.verifier.verify(*token);
            expect(back.has_value() && *back == who, "an issued token verifies to its identity");
        }
    }
    return 0;
}
