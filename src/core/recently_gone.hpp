#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace stratus {

/// Connection ids this process knows to be gone (a push answered 410, or
/// their $disconnect ran). Fan-outs skip them, so a dead connection is pushed
/// to at most once even while its record is still in the store: when many
/// clients of one room vanish at once, each departure's "offline" notice would
/// otherwise go to all the others that are gone too (quadratic in the room).
/// Connection ids are never reused, so entries need no expiry; the oldest are
/// forgotten beyond `capacity`. Thread-safe.
class recently_gone {
public:
    explicit recently_gone(std::size_t capacity = 16384) : capacity_(capacity == 0 ? 1 : capacity) {}

    void add(std::string_view connection_id)
    {
        std::lock_guard lock(mutex_);
        if (!ids_.insert(std::string(connection_id)).second) {
            return;
        }
        order_.emplace_back(connection_id);
        if (order_.size() > capacity_) {
            ids_.erase(order_.front());
            order_.pop_front();
        }
    }

    [[nodiscard]] bool contains(std::string_view connection_id) const
    {
        std::lock_guard lock(mutex_);
        return ids_.contains(std::string(connection_id));
    }

private:
    std::size_t capacity_;
    // This mutex synchronizes ids_ and order_.
    mutable std::mutex mutex_;
    std::unordered_set<std::string> ids_;
    std::deque<std::string> order_;
};

} // namespace stratus
