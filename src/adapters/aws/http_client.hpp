#pragma once

#include <chrono>

#include "adapters/aws/http_message.hpp"
#include "core/result.hpp"

namespace stratus::aws {

/// Sends HTTP/1.1 requests to one endpoint, reusing keep-alive connections.
/// Thread-safe: concurrent calls use separate connections from a pool.
class http_client {
public:
    virtual ~http_client() = default;

    /// Sends `request` (its target is used as is; the Host header is added).
    /// A response with any status is a success. Connection failures, TLS
    /// failures and timeouts -> errc::unavailable with the reason.
    [[nodiscard]] virtual result<http_response> send(http_request const& request) = 0;
};

} // namespace stratus::aws
