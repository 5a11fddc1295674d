#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/ports/clock.hpp"
#include "core/ports/token_verifier.hpp"

namespace stratus {

/// The token_verifier port for local dev identity: compact JWS tokens signed
/// with HMAC-SHA256 under one shared secret (see hs256_token_issuer).
///
/// The verifier, never the token, chooses the algorithm (RFC 8725 §3.1): the
/// MAC is always computed as HS256 and the header must say exactly
/// `"alg":"HS256"`. Checks, in order, each failure -> errc::unauthorized:
/// - size <= max_token_bytes, exactly three non-empty segments of canonical
///   base64url (no padding, no `+` `/`, zero trailing bits);
/// - HS256 signature over `header.payload`, compared in constant time, before
///   any JSON is parsed (no unauthenticated input reaches a JSON parser);
/// - header: a JSON object without duplicate keys, `alg` == "HS256", `typ`
///   absent or "JWT", no `crit`;
/// - payload: a JSON object without duplicate keys, with integer NumericDates
///   `exp`, `nbf` and `iat` (all required: our issuer mints all three) where
///   now < exp + leeway, nbf <= now + leeway, iat <= now + leeway; `iss` and
///   `aud` equal to the configured strings (`aud` must be a string, not an
///   array); `sub` 1-64 of [A-Za-z0-9_-]; `name` passing validate_name.
/// Time comes from the injected clock only. The secret must be at least
/// min_secret_bytes long, otherwise every token is refused.
class hs256_token_verifier final : public token_verifier {
public:
    static constexpr std::size_t max_token_bytes = 8 * 1024;
    static constexpr std::size_t min_secret_bytes = 32;
    static constexpr std::int64_t leeway_s = 60;
    /// Latest NumericDate accepted (9999-12-31T23:59:59Z); keeps `exp + leeway` far from overflow.
    static constexpr std::int64_t max_numeric_date = 253402300799;

    /// The `sub` rule: 1-64 of [A-Za-z0-9_-].
    [[nodiscard]] static bool is_valid_user_id(std::string_view id) noexcept;

    /// `clock` must outlive the verifier.
    hs256_token_verifier(std::string secret, std::string issuer, std::string audience, clock& clock);

    // token_verifier
    [[nodiscard]] result<identity> verify(std::string_view token) override;

private:
    [[nodiscard]] result<identity> verify_unguarded(std::string_view token);

    std::string secret_;
    std::string issuer_;
    std::string audience_;
    clock& clock_;
};

} // namespace stratus
