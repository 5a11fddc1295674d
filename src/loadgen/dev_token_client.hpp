#pragma once

#include <string>
#include <vector>

#include "core/result.hpp"
#include "loadgen/target_url.hpp"

namespace stratus::loadgen {

/// Gets dev tokens from a Stratus gateway (`POST /auth/dev-token {"name"}`),
/// over one keep-alive HTTP connection. Blocking; used before the run starts.
class dev_token_client {
public:
    /// One token per name, in order. Errors: unavailable (cannot connect, bad
    /// answer), invalid_request (the gateway refused a name).
    [[nodiscard]] static result<std::vector<std::string>> fetch(target_url const& gateway,
                                                                std::vector<std::string> const& names);
};

} // namespace stratus::loadgen
