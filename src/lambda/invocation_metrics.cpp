#include "lambda/invocation_metrics.hpp"

#include <nlohmann/json.hpp>

namespace stratus::lambda {

void invocation_metrics::reset() noexcept
{
    messages_stored = 0;
    deliveries = 0;
    gone_connections = 0;
    push_failures = 0;
    store_errors = 0;
}

std::string emf_log_line(invocation_record const& record, invocation_metrics const& metrics)
{
    using json = nlohmann::ordered_json; // keeps "_aws" and the log fields in this order
    auto metric = [](char const* name, char const* unit) { return json{{"Name", name}, {"Unit", unit}}; };
    json line = {
        {"_aws",
         {{"Timestamp", record.timestamp_ms},
          {"CloudWatchMetrics",
           json::array({{{"Namespace", "Stratus"},
                         {"Dimensions", json::array({json::array({"Route"})})},
                         {"Metrics",
                          json::array({metric("MessagesStored", "Count"), metric("Deliveries", "Count"),
                                       metric("GoneConnections", "Count"), metric("PushFailures", "Count"),
                                       metric("Errors", "Count"), metric("Duration", "Milliseconds")})}}})}}},
        {"level", record.outcome == "error" ? "error" : "info"},
        {"msg", "invocation"},
        {"requestId", record.request_id},
        {"Route", record.route.empty() ? std::string("unknown") : record.route},
        {"connectionId", record.connection_id},
        {"outcome", record.outcome},
        {"statusCode", record.status_code},
        {"MessagesStored", metrics.messages_stored.load()},
        {"Deliveries", metrics.deliveries.load()},
        {"GoneConnections", metrics.gone_connections.load()},
        {"PushFailures", metrics.push_failures.load()},
        {"Errors", (record.outcome == "error" ? 1 : 0) + metrics.store_errors.load()},
        {"Duration", static_cast<double>(static_cast<std::int64_t>(record.duration_ms * 1000.0)) / 1000.0},
    };
    if (!record.error.empty()) {
        line["error"] = record.error;
    }
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace stratus::lambda
