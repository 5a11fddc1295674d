#include "loadgen/load_generator.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <random>
#include <thread>

#include <sys/resource.h>

#include "loadgen/dev_token_client.hpp"
#include "loadgen/load_worker.hpp"
#include "loadgen/process_stats.hpp"
#include "loadgen/run_plan.hpp"
#include "loadgen/run_progress.hpp"

namespace stratus::loadgen {
namespace {

// Expected deliveries are tracked one bit and one latency sample each.
constexpr std::uint64_t max_expected_deliveries = 50'000'000;
constexpr auto poll_interval = std::chrono::milliseconds(1);

double seconds_between(std::int64_t from_ns, std::int64_t to_ns)
{
    return static_cast<double>(to_ns - from_ns) / 1e9;
}

std::int64_t ns(std::chrono::milliseconds d)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// One socket per client: raise the soft descriptor limit as far as allowed.
result<void> ensure_descriptors(std::uint32_t clients)
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return {};
    }
    rlim_t const needed = clients + 64;
    if (limit.rlim_cur < needed) {
        limit.rlim_cur = std::min(limit.rlim_max, std::max(needed, limit.rlim_cur));
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < needed) {
        return fail(errc::invalid_request, std::to_string(clients) + " clients need " +
                                               std::to_string(needed) + " file descriptors; the limit is " +
                                               std::to_string(limit.rlim_cur) + " (ulimit -n)");
    }
    return {};
}

result<void> validate(loadgen_options const& o)
{
    auto const bad = [](std::string why) { return fail(errc::invalid_request, std::move(why)); };
    if (o.clients == 0) {
        return bad("--clients must be at least 1");
    }
    if (o.senders == 0 || o.senders > o.clients) {
        return bad("--senders must be 1..--clients");
    }
    if (o.size < payload_codec::min_size || o.size > 16000) {
        return bad("--size must be " + std::to_string(payload_codec::min_size) + "..16000 bytes");
    }
    if (o.threads == 0 || o.threads > 64) {
        return bad("--threads must be 1..64");
    }
    if (o.window == 0) {
        return bad("--window must be at least 1");
    }
    if (o.rate < 0) {
        return bad("--rate must be >= 0");
    }
    auto const expected = std::uint64_t{o.senders} * o.messages * o.clients;
    if (expected > max_expected_deliveries) {
        return bad("senders x messages x clients = " + std::to_string(expected) + " deliveries; at most " +
                   std::to_string(max_expected_deliveries) + " per run");
    }
    for (auto const& w : o.watch) {
        if (w.pid <= 0) {
            return bad("--watch " + w.name + ": invalid pid");
        }
    }
    return {};
}

// Polls `done` until it holds, `failed` reports a reason, or `deadline_ns` passes.
// Returns an empty string on success, else why it stopped.
std::string wait_for(std::function<bool()> const& done, std::function<std::string()> const& failed,
                     std::int64_t deadline_ns, std::string const& timeout_message)
{
    for (;;) {
        if (done()) {
            return {};
        }
        if (auto why = failed(); !why.empty()) {
            return why;
        }
        if (steady_now_ns() > deadline_ns) {
            return timeout_message;
        }
        std::this_thread::sleep_for(poll_interval);
    }
}

} // namespace

load_generator::load_generator(loadgen_options options) : options_(std::move(options)) {}

result<run_result> load_generator::run()
{
    if (auto valid = validate(options_); !valid) {
        return tl::unexpected(valid.error());
    }
    if (auto descriptors = ensure_descriptors(options_.clients); !descriptors) {
        return tl::unexpected(descriptors.error());
    }
    auto target = target_url::parse(options_.url);
    if (!target) {
        return tl::unexpected(target.error());
    }
    auto const run_start_ns = steady_now_ns();
    auto const run_deadline_ns = run_start_ns + ns(options_.max_duration);

    run_plan plan;
    plan.options = options_;
    plan.target = *target;
    std::random_device random;
    auto const nonce = static_cast<std::uint32_t>(random());
    plan.codec = payload_codec(nonce, options_.size);
    plan.room = options_.room.empty() ? "lg-" + std::string(plan.codec.nonce()) : options_.room;
    plan.interval_ns = options_.rate > 0 ? static_cast<std::int64_t>(1e9 / options_.rate) : 0;
    bool const stratus = options_.protocol == wire_protocol::stratus;

    run_result out;
    out.messages = plan.messages_total();
    out.expected_deliveries = plan.expected_deliveries();

    // Each client's request target: the stage and its user's dev token (Stratus).
    std::vector<std::string> targets(options_.clients, plan.target.path);
    if (stratus) {
        auto const users =
            options_.users == 0 ? options_.clients : std::min(options_.users, options_.clients);
        std::vector<std::string> names;
        for (std::uint32_t u = 0; u < users; ++u) {
            names.push_back("lg-" + std::string(plan.codec.nonce()) + "-" + std::to_string(u));
        }
        auto tokens = dev_token_client::fetch(plan.target, names);
        if (!tokens) {
            return tl::unexpected(tokens.error());
        }
        for (std::uint32_t i = 0; i < options_.clients; ++i) {
            targets[i] = plan.target.path + "?token=" + (*tokens)[i % users];
        }
    }
    out.tokens_s = seconds_between(run_start_ns, steady_now_ns());

    // Clients are dealt round-robin to the I/O threads, so senders spread over them.
    run_progress progress;
    std::vector<std::unique_ptr<load_worker>> workers;
    for (std::uint32_t t = 0; t < options_.threads; ++t) {
        auto const share =
            options_.clients / options_.threads + (t < options_.clients % options_.threads ? 1 : 0);
        workers.push_back(std::make_unique<load_worker>(plan, progress, share));
    }
    for (std::uint32_t i = 0; i < options_.clients; ++i) {
        workers[i % options_.threads]->add_client(i, std::move(targets[i]));
    }
    for (auto const& w : options_.watch) {
        process_sample sample;
        sample.name = w.name;
        sample.pid = w.pid;
        sample.rss_before_kib = process_stats::rss_kib(w.pid);
        out.processes.push_back(std::move(sample));
    }
    auto stop_all = [&] {
        for (auto& worker : workers) {
            worker->stop();
        }
    };
    auto const failure = [&]() -> std::string {
        return progress.failed.load() > 0 ? progress.first_failure() : std::string();
    };
    for (auto& worker : workers) {
        worker->start();
    }

    // Connect (and join): bounded by the connect timeout and the run's bound.
    auto const setup_deadline_ns = std::min(run_deadline_ns, steady_now_ns() + ns(options_.connect_timeout));
    auto phase_start_ns = steady_now_ns();
    auto const per_worker = std::max(1U, options_.connect_concurrency / options_.threads);
    for (auto& worker : workers) {
        worker->post_connect(per_worker);
    }
    auto why = wait_for([&] { return progress.connected.load() == options_.clients; }, failure,
                        setup_deadline_ns, "timed out connecting");
    if (!why.empty()) {
        auto const connected = progress.connected.load();
        stop_all();
        return fail(errc::unavailable, std::to_string(connected) + " of " + std::to_string(options_.clients) +
                                           " clients connected to " + options_.url + ": " + why);
    }
    out.connect_s = seconds_between(phase_start_ns, steady_now_ns());

    if (stratus) {
        phase_start_ns = steady_now_ns();
        auto const join = R"({"action":"joinRoom","room":")" + plan.room + R"("})";
        for (auto& worker : workers) {
            worker->post_join(join);
        }
        why = wait_for([&] { return progress.joined.load() == options_.clients; }, failure, setup_deadline_ns,
                       "timed out joining the room");
        if (!why.empty()) {
            auto const joined = progress.joined.load();
            stop_all();
            return fail(errc::unavailable, std::to_string(joined) + " of " +
                                               std::to_string(options_.clients) + " clients joined room " +
                                               plan.room + ": " + why);
        }
        out.join_s = seconds_between(phase_start_ns, steady_now_ns());

        // Presence frames from the joins must be over before the measurement.
        phase_start_ns = steady_now_ns();
        auto const quiet_ns = ns(options_.settle);
        wait_for(
            [&] {
                auto const last = std::max(progress.last_frame_ns.load(), phase_start_ns);
                return steady_now_ns() - last >= quiet_ns;
            },
            [] { return std::string(); }, setup_deadline_ns, "never quiet");
        out.settle_s = seconds_between(phase_start_ns, steady_now_ns());
    }
    for (auto& sample : out.processes) {
        sample.rss_connected_kib = process_stats::rss_kib(sample.pid);
    }

    // Measurement window.
    std::vector<std::optional<double>> cpu_before;
    for (auto const& sample : out.processes) {
        cpu_before.push_back(process_stats::tree_cpu_seconds(sample.pid));
    }
    std::vector<double> thread_cpu_before;
    for (auto const& worker : workers) {
        thread_cpu_before.push_back(process_stats::thread_cpu_seconds(worker->thread_id()).value_or(0));
    }
    auto const self_cpu_before = process_stats::self_cpu_seconds();
    auto const window_start_ns = steady_now_ns();
    // A common start a little ahead, so every worker's schedule begins together.
    auto const start_ns = window_start_ns + 1'000'000;
    for (auto& worker : workers) {
        worker->post_start_sending(start_ns);
    }
    auto const messages = plan.messages_total();
    auto const drain_ns = ns(options_.drain_timeout);
    bool exceeded = false;
    for (;;) {
        auto const now = steady_now_ns();
        bool const senders_done = progress.senders_done.load() == options_.senders;
        // A refused message is delivered to nobody.
        bool const delivered = progress.deliveries.load() + progress.refused.load() * options_.clients >=
                               out.expected_deliveries;
        bool const answered = !stratus || progress.acks.load() + progress.refused.load() >= messages;
        if (senders_done && delivered && answered) {
            break;
        }
        // Nothing arrived for the drain timeout: stragglers are losses. In rate
        // mode the senders' own schedules must have ended first.
        auto const last = std::max(progress.last_progress_ns.load(), start_ns);
        if (now - last > drain_ns && (senders_done || plan.interval_ns == 0)) {
            out.drain_timed_out = true;
            break;
        }
        if (now > run_deadline_ns) {
            exceeded = true;
            break;
        }
        std::this_thread::sleep_for(poll_interval);
    }
    auto const window_end_ns = steady_now_ns();
    out.window_s = seconds_between(window_start_ns, window_end_ns);
    out.loadgen_cpu_s = process_stats::self_cpu_seconds() - self_cpu_before;
    for (std::size_t i = 0; i < workers.size(); ++i) {
        auto const after = process_stats::thread_cpu_seconds(workers[i]->thread_id()).value_or(0);
        out.io_thread_cpu_s.push_back(after - thread_cpu_before[i]);
    }
    for (std::size_t i = 0; i < out.processes.size(); ++i) {
        auto& sample = out.processes[i];
        auto const after = process_stats::tree_cpu_seconds(sample.pid);
        if (after && cpu_before[i]) {
            sample.cpu_s = *after - *cpu_before[i];
        }
        sample.rss_end_kib = process_stats::rss_kib(sample.pid);
    }
    stop_all();
    if (exceeded) {
        return fail(errc::internal, "the run exceeded --max-seconds (" +
                                        std::to_string(options_.max_duration.count() / 1000) + " s) with " +
                                        std::to_string(progress.deliveries.load()) + " of " +
                                        std::to_string(out.expected_deliveries) + " deliveries");
    }

    // Merge the trackers: per message, the receivers that got it and the slowest of them.
    std::vector<std::uint32_t> receivers(static_cast<std::size_t>(messages), 0);
    std::vector<std::int64_t> slowest(static_cast<std::size_t>(messages), -1);
    std::vector<std::int64_t> latencies;
    latencies.reserve(static_cast<std::size_t>(out.expected_deliveries));
    std::int64_t last_delivery_ns = 0;
    std::int64_t first_send_ns = 0;
    for (auto const& worker : workers) {
        auto const& tracker = worker->tracker();
        out.deliveries += tracker.deliveries();
        out.duplicates += tracker.duplicates();
        latencies.insert(latencies.end(), tracker.latencies().begin(), tracker.latencies().end());
        last_delivery_ns = std::max(last_delivery_ns, tracker.last_delivery_ns());
        auto const counts = tracker.receivers_per_message();
        auto const maxima = tracker.max_latency_per_message();
        for (std::size_t m = 0; m < receivers.size(); ++m) {
            receivers[m] += counts[m];
            slowest[m] = std::max(slowest[m], maxima[m]);
        }
        out.max_send_lag_ns = std::max(out.max_send_lag_ns, worker->max_send_lag_ns());
        auto const first = worker->first_send_ns();
        if (first != 0 && (first_send_ns == 0 || first < first_send_ns)) {
            first_send_ns = first;
        }
    }
    std::vector<std::int64_t> last_recipient;
    last_recipient.reserve(receivers.size());
    for (std::size_t m = 0; m < receivers.size(); ++m) {
        if (receivers[m] == options_.clients) {
            last_recipient.push_back(slowest[m]);
        } else {
            ++out.incomplete_messages;
        }
    }
    out.delivery = latency_summary::of(latencies);
    out.last_recipient = latency_summary::of(last_recipient);
    out.duration_s = first_send_ns != 0 && last_delivery_ns > first_send_ns
                         ? seconds_between(first_send_ns, last_delivery_ns)
                         : 0;
    out.malformed = progress.malformed.load();
    out.acks = progress.acks.load();
    out.error_frames = progress.error_frames.load();
    out.refused = progress.refused.load();
    out.disconnects = progress.disconnects.load();
    out.first_error_frame = progress.first_error_frame();
    out.first_disconnect = progress.first_failure();
    return out;
}

} // namespace stratus::loadgen
