#include "adapters/jwt/hs256_token_issuer.hpp"

#include <array>
#include <climits>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include <jwt/jwt.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "adapters/jwt/hs256_token_verifier.hpp"
#include "core/validation.hpp"

namespace stratus {

hs256_token_issuer::hs256_token_issuer(std::string secret, std::string issuer, std::string audience)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), audience_(std::move(audience))
{
}

result<std::string> hs256_token_issuer::issue(identity const& who, std::int64_t now_s,
                                              std::int64_t lifetime_s) const
{
    if (secret_.size() < hs256_token_verifier::min_secret_bytes) {
        return fail(errc::internal, "issuer misconfigured: secret too short");
    }
    if (!hs256_token_verifier::is_valid_user_id(who.user_id)) {
        return fail(errc::invalid_request, "user id must be 1-64 of [A-Za-z0-9_-]");
    }
    if (auto const valid = validate_name(who.name); !valid) {
        return fail(valid.error().code, valid.error().detail);
    }
    if (lifetime_s <= 0 || lifetime_s > max_lifetime_s) {
        return fail(errc::invalid_request, "token lifetime out of range");
    }
    if (now_s < 0 || now_s > hs256_token_verifier::max_numeric_date - lifetime_s) {
        return fail(errc::invalid_request, "issue time out of range");
    }
    try {
        jwt::jwt_object token{jwt::params::algorithm(jwt::algorithm::HS256), jwt::params::secret(secret_)};
        token.add_claim("iss", issuer_)
            .add_claim("aud", audience_)
            .add_claim("sub", who.user_id)
            .add_claim("name", who.name)
            .add_claim("iat", now_s)
            .add_claim("nbf", now_s)
            .add_claim("exp", now_s + lifetime_s);
        std::error_code ec;
        std::string encoded = token.signature(ec);
        if (ec || encoded.empty()) {
            return fail(errc::internal, "cannot sign token: " + ec.message());
        }
        return encoded;
    } catch (std::exception const& e) {
        return fail(errc::internal, std::string("cannot sign token: ") + e.what());
    } catch (...) {
        return fail(errc::internal, "cannot sign token");
    }
}

std::string hs256_token_issuer::dev_user_id(std::string_view secret, std::string_view name)
{
    std::string lowered(name);
    for (char& ch : lowered) {
        if (ch >= 'A' && ch <= 'Z') {
            ch = static_cast<char>(ch - 'A' + 'a');
        }
    }
    if (secret.size() > static_cast<std::size_t>(INT_MAX)) {
        return {};
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    // An empty key is passed as a non-null pointer: OpenSSL treats a null key as "reuse".
    static constexpr unsigned char empty_key = 0;
    void const* key = secret.empty() ? static_cast<void const*>(&empty_key) : secret.data();
    auto const* data = reinterpret_cast<unsigned char const*>(lowered.data());
    if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), data, lowered.size(), mac.data(),
             &mac_len) == nullptr ||
        mac_len < 8) {
        // Fail closed: issue() refuses an empty user id.
        return {};
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id = "u_";
    for (unsigned int i = 0; i < 8; ++i) {
        id.push_back(hex[mac[i] >> 4]);
        id.push_back(hex[mac[i] & 0x0F]);
    }
    return id;
}

} // namespace stratus
