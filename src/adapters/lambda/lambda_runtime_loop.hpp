#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "adapters/lambda/lambda_runtime_client.hpp"
#include "core/ports/logger.hpp"
#include "core/result.hpp"

namespace stratus::lambda {

/// Settings of the invocation loop.
struct runtime_loop_options {
    /// Consecutive failed `next` calls before the runtime gives up (aws-lambda-cpp: 3).
    int max_next_failures = 3;
    /// Pause after a failed `next`.
    std::chrono::milliseconds retry_delay{50};
    /// Stop after this many invocations (tests); unset: forever.
    std::optional<std::size_t> max_invocations;
};

/// Handles one invocation: the payload in, the response payload out. A failure
/// is reported to the Runtime API as a function error of type
/// `Runtime.HandlerFailed` (its detail becomes the errorMessage).
using invocation_handler = std::function<result<std::string>(invocation const&)>;

/// The custom runtime's main loop: next -> handle -> response | error, one
/// invocation at a time. Follows the reference runtime's rules: give up after
/// `max_next_failures` consecutive failed `next` calls; a failed post of a
/// response or error ends the loop too (Lambda then starts a fresh instance);
/// a response the Runtime API refuses as too large is replaced by a function
/// error `Function.ResponseSizeTooLarge`. A handler that throws is a function
/// error, never a crash.
/// Returns the process exit status: 0 after max_invocations, 1 on a fatal
/// Runtime API failure.
int run_runtime_loop(lambda_runtime_client& client, invocation_handler const& handle, logger& log,
                     runtime_loop_options const& options = {});

} // namespace stratus::lambda
