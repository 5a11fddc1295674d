#pragma once

#include <cstdint>

namespace stratus {

/// Outbound port: wall-clock time, injected so that tests control it.
class clock {
public:
    virtual ~clock() = default;

    /// Milliseconds since the Unix epoch.
    [[nodiscard]] virtual std::int64_t now_ms() = 0;
};

} // namespace stratus
