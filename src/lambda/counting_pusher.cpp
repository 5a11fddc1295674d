#include "lambda/counting_pusher.hpp"

namespace stratus::lambda {

std::vector<push_status> counting_pusher::push(std::span<push_target const> targets, std::string_view payload)
{
    auto statuses = inner_.push(targets, payload);
    for (auto status : statuses) {
        switch (status) {
        case push_status::sent:
            ++metrics_.deliveries;
            break;
        case push_status::gone:
            ++metrics_.gone_connections;
            break;
        case push_status::failed:
            ++metrics_.push_failures;
            break;
        }
    }
    return statuses;
}

} // namespace stratus::lambda
