#pragma once

#include <algorithm>
#include <cstdint>

namespace stratus::gateway {

/// A token bucket: `burst` tokens at most, refilled at `rate_per_s`. Not
/// thread-safe (one per connection, used on its strand). A rate of 0 disables it.
class token_bucket {
public:
    token_bucket(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst), tokens_(burst) {}

    /// Takes one token if there is one at `now_ms`.
    [[nodiscard]] bool try_take(std::int64_t now_ms)
    {
        if (rate_ <= 0) {
            return true;
        }
        if (last_ms_ != 0 && now_ms > last_ms_) {
            tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_ / 1000.0);
        }
        last_ms_ = std::max(last_ms_, now_ms);
        if (tokens_ >= 1.0) {
            tokens_ -= 1.0;
            return true;
        }
        return false;
    }

    /// Milliseconds until the next token (0 when one is available).
    [[nodiscard]] std::int64_t retry_after_ms() const
    {
        if (rate_ <= 0 || tokens_ >= 1.0) {
            return 0;
        }
        return static_cast<std::int64_t>((1.0 - tokens_) * 1000.0 / rate_) + 1;
    }

private:
    double rate_;
    double burst_;
    double tokens_;
    std::int64_t last_ms_ = 0;
};

} // namespace stratus::gateway
