#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stratus {

/// What happened to one push.
enum class push_status {
    /// Accepted for delivery (the transport may still lose it: live push is best effort).
    sent,
    /// The connection no longer exists (API Gateway 410 GoneException).
    gone,
    /// Any other failure (throttled, timeout, 5xx); the connection is kept.
    failed,
};

/// One recipient of a push: the connection and the @connections endpoint of
/// the gateway that holds it ("" = the local or default one).
struct push_target {
    std::string connection_id;
    std::string endpoint;
};

/// Outbound port: sends one text frame to many connections.
/// Implementations: the gateway (in process) and the @connections client (AWS).
class pusher {
public:
    virtual ~pusher() = default;

    /// Sends `payload` to every target; returns one status per target, in
    /// the same order. Never throws.
    [[nodiscard]] virtual std::vector<push_status> push(std::span<push_target const> targets,
                                                        std::string_view payload) = 0;
};

} // namespace stratus
