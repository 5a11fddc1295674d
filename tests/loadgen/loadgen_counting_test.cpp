// The load generator counts correctly: a known number of deliveries from the
// floor server (bench/floor_server.cpp) and from the real `stratus dev`, with
// zero losses and duplicates and a well-formed JSON report. No timing is
// asserted: only counts, so the test holds on a loaded machine.
//
// Deliveries: every message reaches every client of the room, the sender
// included (the floor server echoes to all; Stratus pushes `message` to every
// subscriber, the sender's connection too). So deliveries = S x M x N.

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/stack_process.hpp"
#include "support/child_process.hpp"

namespace stratus::testing {
namespace {

using json = nlohmann::json;

struct command_result {
    int status = -1;
    std::string out;
};

// Runs `stratus loadgen ARGS` (stderr to the test's log) and collects its stdout.
command_result run_loadgen(std::string const& args)
{
    auto const command = std::string(STRATUS_BINARY) + " loadgen " + args;
    command_result result;
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return result;
    }
    char chunk[4096];
    std::size_t n = 0;
    while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) {
        result.out.append(chunk, n);
    }
    auto const status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

/// The floor server on a free port, stopped at the end of the test.
class floor_server {
public:
    floor_server() : process_(std::vector<std::string>{STRATUS_FLOOR_SERVER, "--port", "0"})
    {
        auto const rest = process_.wait_for_line("listening on 127.0.0.1:");
        if (!rest) {
            throw std::runtime_error("the floor server did not start");
        }
        port_ = std::stoi(*rest);
    }

    [[nodiscard]] std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

private:
    child_process process_;
    int port_ = 0;
};

// The report's counts for S x M messages to N clients, all delivered once.
void expect_exact_counts(json const& report, std::uint64_t senders, std::uint64_t messages,
                         std::uint64_t clients)
{
    auto const expected = senders * messages * clients;
    EXPECT_EQ(report["messages"], senders * messages);
    EXPECT_EQ(report["expected_deliveries"], expected);
    EXPECT_EQ(report["deliveries"], expected);
    EXPECT_EQ(report["losses"], 0);
    EXPECT_EQ(report["refused_messages"], 0);
    EXPECT_EQ(report["duplicates"], 0);
    EXPECT_EQ(report["malformed"], 0);
    EXPECT_EQ(report["incomplete_messages"], 0);
    EXPECT_EQ(report["disconnects"], 0);
    EXPECT_EQ(report["drain_timed_out"], false);
    // Every delivery and every message has a latency sample.
    EXPECT_EQ(report["latency_us"]["delivery"]["count"], expected);
    EXPECT_EQ(report["latency_us"]["last_recipient"]["count"], senders * messages);
    for (auto const* key : {"p50", "p90", "p99", "max"}) {
        EXPECT_TRUE(report["latency_us"]["delivery"][key].is_number()) << key;
    }
    EXPECT_LE(report["latency_us"]["delivery"]["p50"].get<double>(),
              report["latency_us"]["delivery"]["max"].get<double>());
    EXPECT_TRUE(report["delivered_per_s"].is_number());
    EXPECT_TRUE(report["loadgen"]["cpu_s"].is_number());
}

json parse_report(command_result const& run)
{
    EXPECT_EQ(run.status, 0) << run.out;
    auto report = json::parse(run.out, nullptr, false);
    EXPECT_TRUE(report.is_object()) << "not one JSON document: " << run.out;
    return report;
}

TEST(LoadgenCounting, FloorServerClosedLoop)
{
    floor_server floor;
    auto const report =
        parse_report(run_loadgen("--protocol floor --url " + floor.url() + " -n 10 -s 2 -m 50"));
    ASSERT_TRUE(report.is_object());
    expect_exact_counts(report, 2, 50, 10);
    EXPECT_EQ(report["protocol"], "floor");
}

TEST(LoadgenCounting, FloorServerRateModeWindowAndTwoThreads)
{
    floor_server floor;
    auto const rate = parse_report(
        run_loadgen("--protocol floor --url " + floor.url() + " -n 10 -s 2 -m 50 --rate 1000 --size 200"));
    ASSERT_TRUE(rate.is_object());
    expect_exact_counts(rate, 2, 50, 10);

    auto const windowed = parse_report(
        run_loadgen("--protocol floor --url " + floor.url() + " -n 25 -s 5 -m 40 --window 4 --threads 2"));
    ASSERT_TRUE(windowed.is_object());
    expect_exact_counts(windowed, 5, 40, 25);
}

TEST(LoadgenCounting, FloorServerWatchReportsTheProcess)
{
    floor_server floor;
    auto const report =
        parse_report(run_loadgen("--protocol floor --url " + floor.url() +
                                 " -n 3 -s 1 -m 5 --watch self=" + std::to_string(::getpid())));
    ASSERT_TRUE(report.is_object());
    EXPECT_TRUE(report["processes"]["self"]["rss_kib_connected"].is_number());
    EXPECT_TRUE(report["processes"]["self"]["cpu_s"].is_number());
}

TEST(LoadgenCounting, StratusDevInProcess)
{
    stack_process stack;
    auto const url = "ws://127.0.0.1:" + std::to_string(stack.port()) + "/local";
    auto const report =
        parse_report(run_loadgen("--url " + url + " -n 6 -s 2 -m 20 --window 2 --settle-ms 50"));
    ASSERT_TRUE(report.is_object());
    expect_exact_counts(report, 2, 20, 6);
    EXPECT_EQ(report["protocol"], "stratus");
    EXPECT_EQ(report["acks"], 40);
    EXPECT_EQ(report["error_frames"], 0);

    // Fewer users than clients (several connections per user) counts the same.
    auto const shared =
        parse_report(run_loadgen("--url " + url + " -n 6 -s 3 -m 10 --users 2 --settle-ms 50"));
    ASSERT_TRUE(shared.is_object());
    expect_exact_counts(shared, 3, 10, 6);
}

TEST(LoadgenCounting, StratusRefusedSendsAreCountedApartFromLosses)
{
    // The gateway's per-connection rate limit refuses most of a fast sender's
    // messages with an error frame: those are refused, not lost.
    stack_process stack({"--rate-limit", "1", "--rate-burst", "3"});
    auto const url = "ws://127.0.0.1:" + std::to_string(stack.port()) + "/local";
    auto const report =
        parse_report(run_loadgen("--url " + url + " -n 3 -s 1 -m 10 --rate 1000 --settle-ms 50"));
    ASSERT_TRUE(report.is_object());
    auto const refused = report["refused_messages"].get<std::uint64_t>();
    EXPECT_GE(refused, 1U);
    EXPECT_EQ(report["deliveries"].get<std::uint64_t>(), (10 - refused) * 3);
    EXPECT_EQ(report["acks"].get<std::uint64_t>(), 10 - refused);
    EXPECT_EQ(report["losses"], 0);
    EXPECT_EQ(report["duplicates"], 0);
    EXPECT_EQ(report["drain_timed_out"], false);
}

TEST(LoadgenCounting, FailsClearlyWithoutAServer)
{
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    auto const refused = run_loadgen("--protocol floor --url ws://127.0.0.1:1/ -n 2 -m 1 --max-seconds 10");
    EXPECT_EQ(refused.status, 1);
    EXPECT_TRUE(refused.out.empty());

    auto const remote = run_loadgen("--protocol floor --url ws://192.0.2.1:80/ -n 2 -m 1");
    EXPECT_EQ(remote.status, 2); // loopback only
}

} // namespace
} // namespace stratus::testing
