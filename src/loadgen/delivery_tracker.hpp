#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace stratus::loadgen {

/// Deliveries seen by one I/O thread's receivers. Not thread-safe: each
/// thread owns one tracker and the trackers are merged after the run.
///
/// A message is `sender * messages_per_sender + index`; a receiver is the
/// client's index among this tracker's clients. One bit per (message,
/// receiver) tells a first delivery from a duplicate.
class delivery_tracker {
public:
    delivery_tracker(std::size_t messages, std::size_t receivers);

    /// Records that `receiver` got `message` `latency_ns` after its send, at
    /// steady-clock time `now_ns`. Returns false (and counts a duplicate) when
    /// this receiver already had it.
    bool record(std::size_t message, std::size_t receiver, std::int64_t latency_ns, std::int64_t now_ns);

    /// First deliveries so far.
    [[nodiscard]] std::uint64_t deliveries() const { return latencies_.size(); }
    [[nodiscard]] std::uint64_t duplicates() const { return duplicates_; }
    /// Steady-clock time of the latest first delivery (0 if none).
    [[nodiscard]] std::int64_t last_delivery_ns() const { return last_delivery_ns_; }
    /// Latency of every first delivery, in arrival order.
    [[nodiscard]] std::vector<std::int64_t> const& latencies() const { return latencies_; }
    /// Receivers (of this tracker) that got each message.
    [[nodiscard]] std::span<std::uint32_t const> receivers_per_message() const { return count_; }
    /// Largest latency among this tracker's receivers, per message (-1 if none).
    [[nodiscard]] std::span<std::int64_t const> max_latency_per_message() const { return max_latency_; }

private:
    std::size_t words_per_message_;
    std::vector<std::uint64_t> seen_;
    std::vector<std::uint32_t> count_;
    std::vector<std::int64_t> max_latency_;
    std::vector<std::int64_t> latencies_;
    std::uint64_t duplicates_ = 0;
    std::int64_t last_delivery_ns_ = 0;
};

} // namespace stratus::loadgen
