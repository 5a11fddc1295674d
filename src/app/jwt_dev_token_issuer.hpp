#pragma once

#include <string>

#include "adapters/jwt/hs256_token_issuer.hpp"
#include "core/ports/clock.hpp"
#include "gateway/dev_token_issuer.hpp"

namespace stratus {

/// POST /auth/dev-token on the local stack: a validated display name becomes
/// a stable userId (derived from the name and the stack's secret) and an
/// HS256 token that $connect accepts.
class jwt_dev_token_issuer final : public gateway::dev_token_issuer {
public:
    jwt_dev_token_issuer(std::string secret, hs256_token_issuer& issuer, clock& clock,
                         std::int64_t lifetime_s);

    // dev_token_issuer
    result<gateway::dev_token> issue(std::string_view name) override;

private:
    std::string secret_;
    hs256_token_issuer& issuer_;
    clock& clock_;
    std::int64_t lifetime_s_;
};

} // namespace stratus
