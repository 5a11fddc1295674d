#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace stratus::lambda {

/// Counters of one invocation, filled by the counting decorators around the
/// store and the pusher. One invocation runs at a time per Lambda instance, so
/// the bootstrap resets them before each one; they are atomic because the
/// pusher fans out on several threads.
struct invocation_metrics {
    std::atomic<std::int64_t> messages_stored{0};
    std::atomic<std::int64_t> deliveries{0};
    std::atomic<std::int64_t> gone_connections{0};
    std::atomic<std::int64_t> push_failures{0};
    std::atomic<std::int64_t> store_errors{0};

    void reset() noexcept;
};

/// What the bootstrap records about one invocation.
struct invocation_record {
    std::string request_id;
    std::string route;
    std::string connection_id;
    /// "ok" (a 2xx proxy response), "rejected" (4xx, e.g. $connect refused),
    /// "error" (5xx or a function error).
    std::string outcome;
    int status_code = 0;
    double duration_ms = 0;
    std::int64_t timestamp_ms = 0;
    std::string error;
};

/// One line per invocation that is both the structured log (route,
/// connection, duration, outcome) and a CloudWatch Embedded Metric Format
/// document: CloudWatch extracts MessagesStored, Deliveries, GoneConnections,
/// PushFailures, Errors and Duration in namespace "Stratus", dimension Route,
/// from the same line (no second log line, no PutMetricData call).
[[nodiscard]] std::string emf_log_line(invocation_record const& record, invocation_metrics const& metrics);

} // namespace stratus::lambda
