#pragma once

#include "core/ports/pusher.hpp"

namespace stratus {

/// Several gateways, one store: pushes to the connections this gateway holds
/// directly, and sends the others to the gateway named by their endpoint
/// through its @connections API. A connection that is in neither place is gone.
class routing_pusher final : public pusher {
public:
    routing_pusher(pusher& local, pusher& remote) : local_(local), remote_(remote) {}

    // pusher
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override;

private:
    pusher& local_;
    pusher& remote_;
};

} // namespace stratus
