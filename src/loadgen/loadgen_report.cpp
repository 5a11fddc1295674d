#include "loadgen/loadgen_report.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

namespace stratus::loadgen {
namespace {

using json = nlohmann::ordered_json;

// Rounds to `digits` decimals, so the document stays readable.
double rounded(double value, int digits)
{
    auto const scale = std::pow(10.0, digits);
    return std::round(value * scale) / scale;
}

double micros(std::int64_t ns)
{
    return rounded(static_cast<double>(ns) / 1e3, 1);
}

json latency_json(latency_summary const& s)
{
    return json{{"count", s.count},
                {"p50", micros(s.p50)},
                {"p90", micros(s.p90)},
                {"p99", micros(s.p99)},
                {"max", micros(s.max)}};
}

// CPU seconds per 1,000 deliveries (null without deliveries).
json per_thousand(double cpu_s, std::uint64_t deliveries)
{
    if (deliveries == 0) {
        return nullptr;
    }
    return rounded(cpu_s * 1000.0 / static_cast<double>(deliveries), 6);
}

template <class T>
json optional_json(std::optional<T> const& value)
{
    return value ? json(*value) : json(nullptr);
}

} // namespace

std::string loadgen_report::to_json(loadgen_options const& options, run_result const& r)
{
    json doc;
    doc["protocol"] = options.protocol == wire_protocol::floor ? "floor" : "stratus";
    doc["url"] = options.url;
    doc["clients"] = options.clients;
    doc["senders"] = options.senders;
    doc["messages_per_sender"] = options.messages;
    doc["size"] = options.size;
    doc["rate"] = options.rate;
    doc["window"] = options.window;
    doc["threads"] = options.threads;
    doc["setup_s"] = {{"tokens", rounded(r.tokens_s, 3)},
                      {"connect", rounded(r.connect_s, 3)},
                      {"join", rounded(r.join_s, 3)},
                      {"settle", rounded(r.settle_s, 3)}};

    doc["messages"] = r.messages;
    doc["expected_deliveries"] = r.expected_deliveries;
    doc["deliveries"] = r.deliveries;
    // Lost: deliveries of messages the server accepted that never arrived.
    auto const accepted =
        r.expected_deliveries - std::min(r.expected_deliveries, r.refused * options.clients);
    doc["refused_messages"] = r.refused;
    doc["losses"] = accepted - std::min(r.deliveries, accepted);
    doc["duplicates"] = r.duplicates;
    doc["malformed"] = r.malformed;
    doc["incomplete_messages"] = r.incomplete_messages;
    doc["acks"] = r.acks;
    doc["error_frames"] = r.error_frames;
    doc["disconnects"] = r.disconnects;
    doc["drain_timed_out"] = r.drain_timed_out;
    if (!r.first_error_frame.empty()) {
        doc["first_error_frame"] = r.first_error_frame;
    }
    if (!r.first_disconnect.empty()) {
        doc["first_disconnect"] = r.first_disconnect;
    }

    doc["duration_s"] = rounded(r.duration_s, 6);
    doc["window_s"] = rounded(r.window_s, 6);
    doc["delivered_per_s"] =
        r.duration_s > 0 ? json(rounded(static_cast<double>(r.deliveries) / r.duration_s, 1)) : json(nullptr);
    doc["latency_us"] = {{"delivery", latency_json(r.delivery)},
                         {"last_recipient", latency_json(r.last_recipient)}};
    doc["max_send_lag_us"] = micros(r.max_send_lag_ns);

    json threads = json::array();
    for (auto const cpu : r.io_thread_cpu_s) {
        threads.push_back(rounded(cpu, 3));
    }
    json busy = json::array();
    for (auto const cpu : r.io_thread_cpu_s) {
        busy.push_back(r.window_s > 0 ? rounded(cpu / r.window_s, 3) : 0.0);
    }
    doc["loadgen"] = {{"cpu_s", rounded(r.loadgen_cpu_s, 4)},
                      {"cpu_s_per_1000_deliveries", per_thousand(r.loadgen_cpu_s, r.deliveries)},
                      {"io_thread_cpu_s", threads},
                      // Near 1.0: that I/O thread was saturated, the client (not the server) was the limit.
                      {"io_thread_busy", busy}};

    json processes = json::object();
    for (auto const& p : r.processes) {
        processes[p.name] = {
            {"pid", p.pid},
            {"cpu_s", p.cpu_s ? json(rounded(*p.cpu_s, 3)) : json(nullptr)},
            {"cpu_s_per_1000_deliveries", p.cpu_s ? per_thousand(*p.cpu_s, r.deliveries) : json(nullptr)},
            {"rss_kib_before", optional_json(p.rss_before_kib)},
            {"rss_kib_connected", optional_json(p.rss_connected_kib)},
            {"rss_kib_end", optional_json(p.rss_end_kib)}};
    }
    doc["processes"] = processes;
    return doc.dump(2);
}

} // namespace stratus::loadgen
