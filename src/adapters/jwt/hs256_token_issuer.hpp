#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/model.hpp"
#include "core/result.hpp"

namespace stratus {

/// Mints local dev tokens that hs256_token_verifier accepts: header
/// {"alg":"HS256","typ":"JWT"}, claims iss, aud, sub (= user_id), name, iat,
/// nbf (= iat) and exp (= iat + lifetime). Development only: whoever can call
/// the dev token endpoint can be anyone.
class hs256_token_issuer {
public:
    /// `secret` is the HMAC key (the text from load_or_create_secret).
    hs256_token_issuer(std::string secret, std::string issuer, std::string audience);

    /// Errors: invalid_request (bad user id or name, lifetime not in
    /// (0, max_lifetime_s], time out of range), internal (secret too short,
    /// signing failed).
    [[nodiscard]] result<std::string> issue(identity const& who, std::int64_t now_s,
                                            std::int64_t lifetime_s) const;

    /// A stable user id for a display name on one data dir:
    /// "u_" + the first 16 hex chars of HMAC-SHA256(secret, ASCII-lowercased name).
    /// So "Alice" and "alice" are the same user, and another secret gives other ids.
    /// Returns an empty string (which issue() refuses) only if OpenSSL fails.
    [[nodiscard]] static std::string dev_user_id(std::string_view secret, std::string_view name);

    static constexpr std::int64_t max_lifetime_s = 7 * 24 * 3600;

private:
    std::string secret_;
    std::string issuer_;
    std::string audience_;
};

} // namespace stratus
