#pragma once

#include <chrono>

#include "core/ports/clock.hpp"

namespace stratus {

/// The clock port on the operating system's real-time clock.
class system_clock final : public clock {
public:
    // clock
    std::int64_t now_ms() override
    {
        using namespace std::chrono;
        return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
};

} // namespace stratus
