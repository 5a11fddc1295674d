#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace stratus::gateway {

/// A development token as POST /auth/dev-token returns it.
struct dev_token {
    std::string token;
    std::string user_id;
    std::string name;
    std::int64_t expires_at_s = 0;
};

/// Mints local development tokens (local stack only; never on AWS).
class dev_token_issuer {
public:
    virtual ~dev_token_issuer() = default;

    /// Validates the display name and issues a token. Bad name -> errc::invalid_request.
    [[nodiscard]] virtual result<dev_token> issue(std::string_view name) = 0;
};

} // namespace stratus::gateway
