#include "app/jwt_dev_token_issuer.hpp"

#include "core/validation.hpp"

namespace stratus {

jwt_dev_token_issuer::jwt_dev_token_issuer(std::string secret, hs256_token_issuer& issuer, clock& clock,
                                           std::int64_t lifetime_s)
    : secret_(std::move(secret)), issuer_(issuer), clock_(clock), lifetime_s_(lifetime_s)
{
}

result<gateway::dev_token> jwt_dev_token_issuer::issue(std::string_view name)
{
    if (auto valid = validate_name(name); !valid) {
        return tl::unexpected(valid.error());
    }
    identity who{hs256_token_issuer::dev_user_id(secret_, name), std::string(name)};
    auto const now_s = clock_.now_ms() / 1000;
    auto token = issuer_.issue(who, now_s, lifetime_s_);
    if (!token) {
        return tl::unexpected(token.error());
    }
    return gateway::dev_token{std::move(*token), who.user_id, who.name, now_s + lifetime_s_};
}

} // namespace stratus
