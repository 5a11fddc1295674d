#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stratus {

/// Per-user token buckets: a user's requests over all of their connections
/// (the gateway limits each connection on its own). In memory, so on Lambda
/// each instance counts for itself: a bound per instance, not a global quota
/// (docs/reliability.md). Thread-safe. A rate of 0 disables it.
class user_rate_limiter {
public:
    user_rate_limiter(double rate_per_s, double burst, std::size_t max_users = 100000);

    /// 0 when the request may proceed (a token was taken); otherwise the
    /// milliseconds until the user's next token.
    [[nodiscard]] std::int64_t acquire(std::string_view user_id, std::int64_t now_ms);

    /// Users currently tracked (buckets that are not full).
    [[nodiscard]] std::size_t tracked() const;

private:
    struct bucket {
        double tokens = 0;
        std::int64_t last_ms = 0;
    };

    void refill(bucket& b, std::int64_t now_ms) const;
    void purge(std::int64_t now_ms);

    double rate_;
    double burst_;
    std::size_t max_users_;
    // This mutex synchronizes buckets_.
    mutable std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
};

} // namespace stratus
