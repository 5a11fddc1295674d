#pragma once

#include "core/ports/pusher.hpp"
#include "lambda/invocation_metrics.hpp"

namespace stratus::lambda {

/// A pusher decorator that counts deliveries, gone connections (410) and other
/// push failures into the invocation's metrics.
class counting_pusher final : public pusher {
public:
    /// `inner` and `metrics` must outlive the decorator.
    counting_pusher(pusher& inner, invocation_metrics& metrics) : inner_(inner), metrics_(metrics) {}

    // pusher
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override;

private:
    pusher& inner_;
    invocation_metrics& metrics_;
};

} // namespace stratus::lambda
