#include "loadgen/latency_summary.hpp"

#include <algorithm>
#include <cmath>

namespace stratus::loadgen {

latency_summary latency_summary::of(std::vector<std::int64_t>& samples)
{
    latency_summary out;
    out.count = samples.size();
    if (samples.empty()) {
        return out;
    }
    std::sort(samples.begin(), samples.end());
    // Nearest rank: the smallest value with at least q of the samples at or below it.
    auto const rank = [&](double q) {
        auto const n = static_cast<double>(samples.size());
        auto const r = static_cast<std::size_t>(std::ceil(q * n));
        return samples[std::clamp<std::size_t>(r, 1, samples.size()) - 1];
    };
    out.p50 = rank(0.50);
    out.p90 = rank(0.90);
    out.p99 = rank(0.99);
    out.max = samples.back();
    return out;
}

} // namespace stratus::loadgen
