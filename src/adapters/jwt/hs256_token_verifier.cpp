#include "adapters/jwt/hs256_token_verifier.hpp"

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <jwt/jwt.hpp>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

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

bool is_base64url_char(char ch) noexcept
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

int base64url_value(char ch) noexcept
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    return ch == '-' ? 62 : 63;
}

/// True when `segment` is non-empty, unpadded base64url in its one canonical
/// form: only [A-Za-z0-9_-], a length that can encode whole bytes, and zero
/// unused bits in the last character. This also keeps cpp-jwt's decoder (which
/// indexes a table with signed chars and skips invalid characters) away from
/// anything but well-formed input.
bool is_canonical_base64url(std::string_view segment) noexcept
{
    if (segment.empty() || segment.size() % 4 == 1) {
        return false;
    }
    for (char ch : segment) {
        if (!is_base64url_char(ch)) {
            return false;
        }
    }
    int const last = base64url_value(segment.back());
    switch (segment.size() % 4) {
    case 2:
        return (last & 0x0F) == 0;
    case 3:
        return (last & 0x03) == 0;
    default:
        return true;
    }
}

std::string base64url_decode(std::string_view segment)
{
    return jwt::base64_uri_decode(segment.data(), segment.size());
}

std::string base64url_encode(std::string_view bytes)
{
    std::string text = jwt::base64_encode(bytes.data(), bytes.size());
    text.resize(jwt::base64_uri_encode(text.data(), text.size()));
    return text;
}

/// Parses a JSON object, refusing duplicate member names at any depth
/// (RFC 7515 §5.2 allows refusing them; picking one lets an attacker pick) and
/// nesting deeper than limits::json_max_depth.
result<json> parse_object(std::string_view text, std::string_view what)
{
    if (unsafe_json_text(text, limits::json_max_depth)) {
        return fail(errc::unauthorized, std::string(what) + " nests too deeply");
    }
    std::vector<std::vector<std::string>> keys_per_object;
    bool duplicate = false;
    auto const on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            keys_per_object.emplace_back();
        } else if (event == json::parse_event_t::object_end && !keys_per_object.empty()) {
            keys_per_object.pop_back();
        } else if (event == json::parse_event_t::key && !keys_per_object.empty()) {
            auto& keys = keys_per_object.back();
            auto const& key = parsed.get_ref<std::string const&>();
            for (auto const& seen : keys) {
                if (seen == key) {
                    duplicate = true;
                }
            }
            keys.push_back(key);
        }
        return true;
    };
    json value = json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return fail(errc::unauthorized, std::string(what) + " is not valid JSON");
    }
    if (duplicate) {
        return fail(errc::unauthorized, std::string(what) + " has duplicate member names");
    }
    if (!value.is_object()) {
        return fail(errc::unauthorized, std::string(what) + " is not a JSON object");
    }
    return value;
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
        if (!is_base64url_char(ch)) { // the same alphabet: [A-Za-z0-9_-]
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
    auto const first_dot = token.find('.');
    if (first_dot == std::string_view::npos) {
        return refuse("malformed token");
    }
    auto const second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
        return refuse("malformed token");
    }
    auto const header_b64 = token.substr(0, first_dot);
    auto const payload_b64 = token.substr(first_dot + 1, second_dot - first_dot - 1);
    auto const signature_b64 = token.substr(second_dot + 1);
    if (!is_canonical_base64url(header_b64) || !is_canonical_base64url(payload_b64) ||
        !is_canonical_base64url(signature_b64)) {
        return refuse("malformed token");
    }

    // 2. Signature, with the algorithm chosen here, never by the header. cpp-jwt
    //    computes the HMAC; we compare in constant time (cpp-jwt's own
    //    HMACSign::verify compares with ==).
    auto const signing_input = token.substr(0, second_dot);
    auto const [mac, sign_error] = jwt::HMACSign<jwt::algo::HS256>::sign(secret_, signing_input);
    if (sign_error || mac.empty()) {
        return refuse("cannot compute HS256");
    }
    std::string const expected = base64url_encode(mac);
    if (expected.size() != signature_b64.size() ||
        CRYPTO_memcmp(expected.data(), signature_b64.data(), expected.size()) != 0) {
        return refuse("bad signature");
    }

    // 3. Header (authenticated from here on).
    auto header = parse_object(base64url_decode(header_b64), "header");
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
    auto payload = parse_object(base64url_decode(payload_b64), "payload");
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
