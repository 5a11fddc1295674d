#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/ports/pusher.hpp"

namespace stratus::testing {

/// A pusher that records every delivery and answers `gone` for chosen ids.
class recording_pusher final : public pusher {
public:
    struct delivery {
        std::string connection_id;
        std::string payload;
    };

    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override
    {
        std::lock_guard lock(mutex_);
        std::vector<push_status> statuses;
        for (auto const& target : targets) {
            auto const& id = target.connection_id;
            if (gone_.count(id) > 0) {
                statuses.push_back(push_status::gone);
                ++gone_pushes_[id];
            } else {
                statuses.push_back(push_status::sent);
                deliveries_.push_back({id, std::string(payload)});
            }
        }
        return statuses;
    }

    void mark_gone(std::string const& id)
    {
        std::lock_guard lock(mutex_);
        gone_.insert(id);
    }

    /// Payloads delivered to one connection, in order.
    std::vector<std::string> to(std::string const& id)
    {
        std::lock_guard lock(mutex_);
        std::vector<std::string> out;
        for (auto const& d : deliveries_) {
            if (d.connection_id == id) {
                out.push_back(d.payload);
            }
        }
        return out;
    }

    int gone_pushes(std::string const& id)
    {
        std::lock_guard lock(mutex_);
        return gone_pushes_[id];
    }

    void clear()
    {
        std::lock_guard lock(mutex_);
        deliveries_.clear();
    }

private:
    std::mutex mutex_;
    std::set<std::string> gone_;
    std::map<std::string, int> gone_pushes_;
    std::vector<delivery> deliveries_;
};

} // namespace stratus::testing
