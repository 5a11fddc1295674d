#pragma once

#include <atomic>

#include "core/ports/clock.hpp"

namespace stratus::testing {

/// A clock that only moves when told to.
class fake_clock final : public clock {
public:
    explicit fake_clock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
    std::int64_t now_ms() override { return now_.load(); }
    void advance_ms(std::int64_t ms) { now_ += ms; }

private:
    std::atomic<std::int64_t> now_;
};

} // namespace stratus::testing
