#include "adapters/jwt/hs256_token_verifier.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <jwt/jwt.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/strict_json.hpp"
#include "core/validation.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

constexpr std::int64_t max_numeric_date = hs256_token_verifier::max_numeric_date;
constexpr std::size_t max_user_id_chars = 64;

result<identity> refuse(std::string reason)
{
    return fail(errc::unauthorized, std::move(reason));
}

/// The `sub` alphabet: [A-Za-z0-9_-].
bool is_user_id_char(char ch) noexcept
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

/// A required NumericDate claim, as a whole number of seconds in
/// [0, max_numeric_date]. Strings, fractions, negatives and huge values are refused.
result<std::int64_t> numeric_date(json const& payload, char const* claim)
{
    auto const it = payload.find(claim);
    if (it == payload.end()) {
        return fail(errc::unauthorized, std::string("missing ") + claim);
    }
    std::int64_t value = -1;
    if (it->is_number_unsigned()) {
        auto const raw = it->get<std::uint64_t>();
        if (raw <= static_cast<std::uint64_t>(max_numeric_date)) {
            value = static_cast<std::int64_t>(raw);
        }
    } else if (it->is_number_integer()) {
        value = it->get<std::int64_t>();
    }
    if (value < 0 || value > max_numeric_date) {
        return fail(errc::unauthorized, std::string(claim) + " is not a valid NumericDate");
    }
    return value;
}

result<std::string> string_claim(json const& payload, char const* claim)
{
    auto const it = payload.find(claim);
    if (it == payload.end()) {
        return fail(errc::unauthorized, std::string("missing ") + claim);
    }
    if (!it->is_string()) {
        return fail(errc::unauthorized, std::string(claim) + " is not a string");
    }
    return it->get<std::string>();
}

} // namespace

bool hs256_token_verifier::is_valid_user_id(std::string_view id) noexcept
{
    if (id.empty() || id.size() > max_user_id_chars) {
        return false;
    }
    for (char ch : id) {
        if (!is_user_id_char(ch)) {
            return false;
        }
    }
    return true;
}

hs256_token_verifier::hs256_token_verifier(std::string secret, std::string issuer, std::string audience,
                                           clock& clock)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), audience_(std::move(audience)), clock_(clock)
{
}

result<identity> hs256_token_verifier::verify(std::string_view token)
{
    // cpp-jwt and nlohmann::json throw; nothing may cross the port.
    try {
        return verify_unguarded(token);
    } catch (std::exception const& e) {
        return refuse(std::string("token rejected: ") + e.what());
    } catch (...) {
        return refuse("token rejected: unknown error");
    }
}

result<identity> hs256_token_verifier::verify_unguarded(std::string_view token)
{
    if (secret_.size() < min_secret_bytes) {
        return refuse("verifier misconfigured: secret too short");
    }
    if (token.empty()) {
        return refuse("empty token");
    }
    if (token.size() > max_token_bytes) {
        return refuse("token too large");
    }

    // 1. Shape: header.payload.signature, each canonical base64url.
    auto const jws = compact_jws::split(token);
    if (!jws) {
        return refuse("malformed token");
    }

    // 2. Signature, with the algorithm chosen here, never by the header. cpp-jwt
    //    computes the HMAC; we compare in constant time (cpp-jwt's own
    //    HMACSign::verify compares with ==).
    auto const [mac, sign_error] = jwt::HMACSign<jwt::algo::HS256>::sign(secret_, jws->signing_input);
    if (sign_error || mac.empty()) {
        return refuse("cannot compute HS256");
    }
    if (mac.size() != jws->signature.size() ||
        CRYPTO_memcmp(mac.data(), jws->signature.data(), mac.size()) != 0) {
        return refuse("bad signature");
    }

    // 3. Header (authenticated from here on).
    auto header = parse_strict_json_object(jws->header, limits::json_max_depth, errc::unauthorized, "header");
    if (!header) {
        return fail(header.error().code, header.error().detail);
    }
    auto const alg = header->find("alg");
    if (alg == header->end() || !alg->is_string() || alg->get_ref<std::string const&>() != "HS256") {
        return refuse("algorithm is not HS256");
    }
    if (auto const typ = header->find("typ"); typ != header->end()) {
        if (!typ->is_string() || typ->get_ref<std::string const&>() != "JWT") {
            return refuse("typ is not JWT");
        }
    }
    if (header->contains("crit")) {
        return refuse("unsupported critical header");
    }

    // 4. Claims.
    auto payload =
        parse_strict_json_object(jws->payload, limits::json_max_depth, errc::unauthorized, "payload");
    if (!payload) {
        return fail(payload.error().code, payload.error().detail);
    }
    auto const exp = numeric_date(*payload, "exp");
    if (!exp) {
        return fail(exp.error().code, exp.error().detail);
    }
    auto const nbf = numeric_date(*payload, "nbf");
    if (!nbf) {
        return fail(nbf.error().code, nbf.error().detail);
    }
    auto const iat = numeric_date(*payload, "iat");
    if (!iat) {
        return fail(iat.error().code, iat.error().detail);
    }
    std::int64_t const now_s = clock_.now_ms() / 1000;
    if (now_s >= *exp + leeway_s) {
        return refuse("token expired");
    }
    if (*nbf > now_s + leeway_s) {
        return refuse("token not yet valid");
    }
    if (*iat > now_s + leeway_s) {
        return refuse("token issued in the future");
    }

    auto const iss = string_claim(*payload, "iss");
    if (!iss || *iss != issuer_) {
        return refuse("wrong issuer");
    }
    auto const aud = string_claim(*payload, "aud");
    if (!aud || *aud != audience_) {
        return refuse("wrong audience");
    }
    auto sub = string_claim(*payload, "sub");
    if (!sub || !is_valid_user_id(*sub)) {
        return refuse("missing or invalid sub");
    }
    auto name = string_claim(*payload, "name");
    if (!name) {
        return fail(name.error().code, name.error().detail);
    }
    if (auto const valid = validate_name(*name); !valid) {
        return refuse("invalid name claim: " + valid.error().detail);
    }
    return identity{std::move(*sub), std::move(*name)};
}

} // namespace stratus
