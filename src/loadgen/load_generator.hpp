#pragma once

#include "core/result.hpp"
#include "loadgen/loadgen_options.hpp"
#include "loadgen/run_result.hpp"

namespace stratus::loadgen {

/// Runs one measurement: N clients connect (and join one room), S of them
/// send M messages each, every delivery is timed and counted, then the
/// clients disconnect. Bounded: the connect phase by connect_timeout, the
/// whole run by max_duration, the wait for stragglers by drain_timeout.
class load_generator {
public:
    explicit load_generator(loadgen_options options);

    /// Errors: invalid_request (options), unavailable (connections, tokens,
    /// joins failed), internal (the run exceeded its time bound).
    [[nodiscard]] result<run_result> run();

private:
    loadgen_options options_;
};

} // namespace stratus::loadgen
