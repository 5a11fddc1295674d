#include "loadgen/loadgen_command.hpp"

#include <charconv>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "loadgen/load_generator.hpp"
#include "loadgen/loadgen_report.hpp"

namespace stratus::loadgen {
namespace {

std::chrono::milliseconds millis(double seconds)
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

} // namespace

std::unique_ptr<loadgen_command> loadgen_command::add_to(CLI::App& app)
{
    std::unique_ptr<loadgen_command> self(new loadgen_command());
    auto& o = self->options_;
    auto* cmd = app.add_subcommand(
        "loadgen", "Load generator: N clients in one room, S of them send; prints latency, throughput, "
                   "losses, duplicates and CPU as JSON (loopback only)");
    self->command_ = cmd;
    cmd->add_option("--url", o.url, "ws://127.0.0.1:PORT/STAGE (Stratus) or ws://127.0.0.1:PORT/ (floor)")
        ->required();
    cmd->add_option("--protocol", self->protocol_,
                    "stratus (dev tokens, joinRoom, sendMessage/ack) or floor (bench/floor_server: every "
                    "frame is broadcast to every client, the sender included)")
        ->check(CLI::IsMember({"stratus", "floor"}))
        ->capture_default_str();
    cmd->add_option("--clients,-n", o.clients, "Clients in the room; each receives every message")
        ->capture_default_str();
    cmd->add_option("--senders,-s", o.senders, "Clients that send (the first S)")->capture_default_str();
    cmd->add_option("--messages,-m", o.messages, "Messages per sender")->capture_default_str();
    cmd->add_option("--size", o.size, "Bytes of message text")->capture_default_str();
    cmd->add_option("--rate", o.rate, "Messages per second per sender; 0 = closed loop (next send on ack)")
        ->capture_default_str();
    cmd->add_option("--window", o.window, "Closed loop: unacknowledged messages per sender")
        ->capture_default_str();
    cmd->add_option("--threads", o.threads, "I/O threads of the load generator")->capture_default_str();
    cmd->add_option("--users", o.users, "Distinct users the clients log in as (0 = one per client)")
        ->capture_default_str();
    cmd->add_option("--room", o.room, "Room to join (default: a fresh one)");
    cmd->add_option("--connect-concurrency", o.connect_concurrency, "Handshakes in flight at once")
        ->capture_default_str();
    cmd->add_option("--connect-timeout", self->connect_timeout_s_,
                    "Seconds allowed to connect and join every client")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--drain-timeout", self->drain_timeout_s_,
                    "Seconds without progress after which missing deliveries count as lost")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--settle-ms", self->settle_ms_, "Quiet milliseconds after the joins before sending")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--max-seconds", self->max_seconds_, "Upper bound on the whole run (exceeded = failure)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->add_option("--watch", self->watch_,
                    "NAME=PID: report this process's CPU (with its descendants) and memory (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    return self;
}

bool loadgen_command::parsed() const
{
    return command_ != nullptr && command_->parsed();
}

int loadgen_command::run()
{
    options_.protocol = protocol_ == "floor" ? wire_protocol::floor : wire_protocol::stratus;
    options_.connect_timeout = millis(connect_timeout_s_);
    options_.drain_timeout = millis(drain_timeout_s_);
    options_.settle = std::chrono::milliseconds(static_cast<std::int64_t>(settle_ms_));
    options_.max_duration = millis(max_seconds_);
    options_.watch.clear();
    for (auto const& entry : watch_) {
        auto const eq = entry.find('=');
        int pid = 0;
        auto const digits =
            eq == std::string::npos ? std::string_view() : std::string_view(entry).substr(eq + 1);
        auto const [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
        if (eq == 0 || eq == std::string::npos || ec != std::errc{} || end != digits.data() + digits.size()) {
            std::cerr << "stratus loadgen: --watch must be NAME=PID, got '" << entry << "'\n";
            return 2;
        }
        options_.watch.push_back(watched_process{entry.substr(0, eq), pid});
    }
    load_generator generator(options_);
    auto result = generator.run();
    if (!result) {
        std::cerr << "stratus loadgen: " << result.error().detail << "\n";
        return result.error().code == errc::invalid_request ? 2 : 1;
    }
    std::cout << loadgen_report::to_json(options_, *result) << "\n" << std::flush;
    return 0;
}

} // namespace stratus::loadgen
