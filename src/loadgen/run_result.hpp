#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/latency_summary.hpp"

namespace stratus::loadgen {

/// CPU and memory of one watched process (and, for CPU, its descendants).
struct process_sample {
    std::string name;
    int pid = 0;
    /// CPU seconds over the measurement window (the process and its descendants).
    std::optional<double> cpu_s;
    std::optional<std::int64_t> rss_before_kib;    // before the first connection
    std::optional<std::int64_t> rss_connected_kib; // every client connected (and joined), idle
    std::optional<std::int64_t> rss_end_kib;       // at the end of the measurement
};

/// Everything one run measured; loadgen_report turns it into JSON.
struct run_result {
    // Setup, in seconds.
    double tokens_s = 0;
    double connect_s = 0;
    double join_s = 0;
    double settle_s = 0;

    // Counts.
    std::uint64_t messages = 0;
    std::uint64_t expected_deliveries = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t duplicates = 0;
    std::uint64_t malformed = 0;
    std::uint64_t acks = 0;
    std::uint64_t error_frames = 0;
    /// Messages the server refused with an error frame (never stored, never delivered).
    std::uint64_t refused = 0;
    std::uint32_t disconnects = 0;
    /// Messages that did not reach every client.
    std::uint64_t incomplete_messages = 0;
    /// True when the run ended because nothing arrived for the drain timeout.
    bool drain_timed_out = false;
    std::string first_error_frame;
    /// The first lost connection, if any.
    std::string first_disconnect;

    /// First send to last first-delivery, in seconds.
    double duration_s = 0;
    /// Measurement window (start of sending to the end of the run), in seconds.
    double window_s = 0;
    /// Send -> receive, every first delivery.
    latency_summary delivery;
    /// Send -> last recipient, every message that reached every client.
    latency_summary last_recipient;
    /// Rate mode: the worst delay of a send behind its schedule.
    std::int64_t max_send_lag_ns = 0;

    /// The load generator's own CPU over the window, whole process and per I/O thread.
    double loadgen_cpu_s = 0;
    std::vector<double> io_thread_cpu_s;
    std::vector<process_sample> processes;
};

} // namespace stratus::loadgen
