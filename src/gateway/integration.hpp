#pragma once

#include <string>

#include "core/result.hpp"

namespace stratus::gateway {

/// How the gateway invokes the backend for a route (API Gateway's AWS_PROXY
/// integration). Called on a worker thread, never on an I/O thread; may block.
class integration {
public:
    virtual ~integration() = default;

    /// Sends the event JSON and returns the proxy response JSON. A failure is a
    /// function error (the client then gets "Internal server error").
    [[nodiscard]] virtual result<std::string> invoke(std::string const& event_json) = 0;
};

} // namespace stratus::gateway
