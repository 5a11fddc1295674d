#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace stratus::loadgen {

/// steady_clock now, in nanoseconds: the one clock of every timestamp of a run.
inline std::int64_t steady_now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// Counters the I/O threads update and the coordinating thread watches to
/// move from one phase to the next. Atomic counters; the first failure and
/// the first error frame are kept under a mutex.
class run_progress {
public:
    std::atomic<std::uint32_t> connected{0};
    std::atomic<std::uint32_t> joined{0};
    std::atomic<std::uint32_t> failed{0};
    std::atomic<std::uint32_t> disconnects{0};
    std::atomic<std::uint32_t> senders_done{0};
    std::atomic<std::uint64_t> deliveries{0};
    std::atomic<std::uint64_t> acks{0};
    std::atomic<std::uint64_t> error_frames{0};
    /// Sends the server answered with an error frame (rate_limited, ...): never delivered.
    std::atomic<std::uint64_t> refused{0};
    std::atomic<std::uint64_t> malformed{0};
    /// steady-clock ns of the latest frame of any kind (for the settle phase).
    std::atomic<std::int64_t> last_frame_ns{0};
    /// steady-clock ns of the latest first delivery or ack (for the drain timeout).
    std::atomic<std::int64_t> last_progress_ns{0};

    /// Records a failure that ends the run; the first one is kept. Thread-safe.
    void fail(std::string const& why);
    /// Records an error frame; the first one is kept. Thread-safe.
    void error_frame(std::string const& what);

    [[nodiscard]] std::string first_failure() const;
    [[nodiscard]] std::string first_error_frame() const;

private:
    // This mutex guards the two strings below.
    mutable std::mutex mutex_;
    std::string first_failure_;
    std::string first_error_frame_;
};

} // namespace stratus::loadgen
