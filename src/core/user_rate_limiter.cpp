#include "core/user_rate_limiter.hpp"

#include <algorithm>

namespace stratus {

user_rate_limiter::user_rate_limiter(double rate_per_s, double burst, std::size_t max_users)
    : rate_(rate_per_s), burst_(std::max(1.0, burst)), max_users_(std::max<std::size_t>(1, max_users))
{
}

void user_rate_limiter::refill(bucket& b, std::int64_t now_ms) const
{
    if (now_ms > b.last_ms) {
        b.tokens = std::min(burst_, b.tokens + static_cast<double>(now_ms - b.last_ms) * rate_ / 1000.0);
        b.last_ms = now_ms;
    }
}

void user_rate_limiter::purge(std::int64_t now_ms)
{
    // A bucket that has refilled completely is the same as no bucket.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        refill(it->second, now_ms);
        it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
}

std::int64_t user_rate_limiter::acquire(std::string_view user_id, std::int64_t now_ms)
{
    if (rate_ <= 0) {
        return 0;
    }
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(std::string(user_id));
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_users_) {
            purge(now_ms);
        }
        it = buckets_.emplace(std::string(user_id), bucket{burst_, now_ms}).first;
    }
    auto& b = it->second;
    refill(b, now_ms);
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return 0;
    }
    return static_cast<std::int64_t>((1.0 - b.tokens) * 1000.0 / rate_) + 1;
}

std::size_t user_rate_limiter::tracked() const
{
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

} // namespace stratus
