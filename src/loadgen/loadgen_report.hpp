#pragma once

#include <string>

#include "loadgen/loadgen_options.hpp"
#include "loadgen/run_result.hpp"

namespace stratus::loadgen {

/// The one JSON document `stratus loadgen` prints: the run's parameters and
/// what it measured (latencies in microseconds, times in seconds, memory in KiB).
class loadgen_report {
public:
    [[nodiscard]] static std::string to_json(loadgen_options const& options, run_result const& result);
};

} // namespace stratus::loadgen
