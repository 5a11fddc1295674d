#pragma once

#include <cstdint>
#include <optional>

namespace stratus::loadgen {

/// CPU time and memory of processes on this machine, from /proc.
/// CPU times from /proc/<pid>/stat have the kernel's clock-tick resolution
/// (10 ms at USER_HZ 100): sample over windows of a second or more.
class process_stats {
public:
    /// CPU seconds (user + system) of this process so far, all threads (getrusage).
    static double self_cpu_seconds();

    /// CPU seconds of one thread of this process (/proc/self/task/<tid>/stat).
    static std::optional<double> thread_cpu_seconds(int tid);

    /// CPU seconds of `pid` and of all its live descendants, plus the children
    /// they have reaped. Nullopt if `pid` does not exist.
    static std::optional<double> tree_cpu_seconds(int pid);

    /// Resident set size of `pid` in KiB (VmRSS of /proc/<pid>/status).
    static std::optional<std::int64_t> rss_kib(int pid);

    /// The calling thread's id (gettid).
    static int current_thread_id();
};

} // namespace stratus::loadgen
