#include "core/known_connections.hpp"

namespace stratus {

std::optional<connection_record> known_connections::find(std::string_view connection_id,
                                                         std::int64_t now_s) const
{
    std::lock_guard lock(mutex_);
    auto const it = records_.find(std::string(connection_id));
    if (it == records_.end() || it->second.record.expires_at_s <= now_s ||
        now_s - it->second.remembered_at_s >= max_age_s_) {
        return std::nullopt;
    }
    return it->second.record;
}

void known_connections::remember(connection_record const& record, std::int64_t now_s)
{
    if (capacity_ == 0) {
        return;
    }
    std::lock_guard lock(mutex_);
    auto const [it, inserted] = records_.insert_or_assign(record.connection_id, entry{record, now_s});
    if (!inserted) {
        return;
    }
    order_.push_back(record.connection_id);
    // Forgotten ids stay in order_ until they reach the front; bound it too.
    while (records_.size() > capacity_ || order_.size() > 2 * capacity_) {
        records_.erase(order_.front());
        order_.pop_front();
    }
}

void known_connections::forget(std::string_view connection_id)
{
    std::lock_guard lock(mutex_);
    records_.erase(std::string(connection_id));
}

std::size_t known_connections::size() const
{
    std::lock_guard lock(mutex_);
    return records_.size();
}

} // namespace stratus
