#pragma once

#include <cstdint>
#include <vector>

namespace stratus::loadgen {

/// Percentiles of a set of latencies (nearest rank), in nanoseconds.
struct latency_summary {
    std::uint64_t count = 0;
    std::int64_t p50 = 0;
    std::int64_t p90 = 0;
    std::int64_t p99 = 0;
    std::int64_t max = 0;

    /// Summarises `samples` (reordered in place); all zero when empty.
    static latency_summary of(std::vector<std::int64_t>& samples);
};

} // namespace stratus::loadgen
