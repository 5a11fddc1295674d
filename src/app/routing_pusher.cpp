#include "app/routing_pusher.hpp"

namespace stratus {

std::vector<push_status> routing_pusher::push(std::span<push_target const> targets, std::string_view payload)
{
    auto statuses = local_.push(targets, payload);
    // Not held here: if another gateway holds it, its endpoint says where.
    // (A stale connection of this gateway comes back 410 from our own @connections.)
    std::vector<std::size_t> elsewhere;
    std::vector<push_target> remote_targets;
    for (std::size_t i = 0; i < targets.size() && i < statuses.size(); ++i) {
        if (statuses[i] == push_status::gone && !targets[i].endpoint.empty()) {
            elsewhere.push_back(i);
            remote_targets.push_back(targets[i]);
        }
    }
    if (remote_targets.empty()) {
        return statuses;
    }
    auto const remote = remote_.push(remote_targets, payload);
    for (std::size_t k = 0; k < elsewhere.size() && k < remote.size(); ++k) {
        statuses[elsewhere[k]] = remote[k];
    }
    return statuses;
}

} // namespace stratus
