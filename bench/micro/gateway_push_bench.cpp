// gateway::push to N live sessions, without sockets and without clients: the
// gateway's own share of a fan-out (registry lookups under its mutex, one
// shared frame, one post per session to the session's strand).
//
// How the sessions are live without a socket: each websocket_session gets a
// tcp_stream that was never opened, on an io_context of this benchmark. Its
// $connect goes to the integration below, which records the connection id; the
// session's on_connect_result then runs (one poll_one each), which registers it
// with the gateway and accepts sends. The handshake write it starts fails at
// once (no descriptor), but that completion is never run: this io_context only
// runs those N handlers, so the sessions stay open and every send is queued.
// Queued frames are not written; every `batch` iterations the sessions are torn
// down (timing paused) and rebuilt so that queues stay small.
//
// What this leaves out: the write itself (Beast framing, the syscall), and the
// wake-up of an idle I/O thread (one eventfd write per push call when the I/O
// thread sleeps in epoll). Frames posted to a strand that already has one
// pending (every push after the first of a batch) take the strand's queue path.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "core/apigw_event.hpp"
#include "gateway/gateway.hpp"
#include "gateway/route_table.hpp"
#include "gateway/websocket_session.hpp"

namespace {

using namespace stratus;
using namespace stratus::gateway;

/// Accepts every $connect and remembers the connection ids, in order.
class recording_integration final : public integration {
public:
    result<std::string> invoke(std::string const& event_json) override
    {
        auto event = parse_apigw_event(event_json);
        if (event && event->event_type == "CONNECT") {
            std::lock_guard lock(mutex_);
            ids_.push_back(event->connection_id);
        }
        return std::string(R"({"statusCode":200})");
    }

    std::vector<std::string> take_ids()
    {
        std::lock_guard lock(mutex_);
        return std::exchange(ids_, {});
    }

private:
    std::mutex mutex_;
    std::vector<std::string> ids_;
};

/// N sessions registered with a gateway, on an io_context that is never run.
class session_set {
public:
    session_set(class gateway& gw, recording_integration& backend, int count) : gateway_(gw)
    {
        for (int i = 0; i < count; ++i) {
            beast::tcp_stream stream(net::make_strand(ioc_));
            auto session = std::make_shared<websocket_session>(std::move(stream), gateway_);
            http::request<http::string_body> upgrade{http::verb::get, "/local", 11};
            upgrade.set(http::field::host, "127.0.0.1:8080");
            upgrade.set(http::field::upgrade, "websocket");
            upgrade.set(http::field::connection, "Upgrade");
            upgrade.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
            upgrade.set(http::field::sec_websocket_version, "13");
            session->run(std::move(upgrade));
            sessions_.push_back(std::move(session));
        }
        // One worker thread: once this marker has run, every $connect answer
        // before it has been posted to ioc_.
        std::promise<void> drained;
        auto strand = gateway_.make_worker_strand();
        gateway_.invoke(strand, "{}", [&drained](result<std::string>) { drained.set_value(); });
        drained.get_future().wait();
        // Exactly the N on_connect_result handlers, nothing after them.
        for (int i = 0; i < count; ++i) {
            if (ioc_.poll_one() != 1) {
                throw std::runtime_error("a session did not finish $connect");
            }
        }
        for (auto& id : backend.take_ids()) {
            if (gateway_.find(id) == nullptr) {
                throw std::runtime_error("a session is not registered");
            }
            targets_.push_back(push_target{std::move(id), ""});
        }
    }

    ~session_set()
    {
        for (auto const& target : targets_) {
            gateway_.remove(target.connection_id);
        }
        sessions_.clear();
        // ioc_ goes last: destroying its pending handlers releases the sessions.
    }
    session_set(session_set const&) = delete;
    session_set& operator=(session_set const&) = delete;

    [[nodiscard]] std::vector<push_target> const& targets() const { return targets_; }

private:
    net::io_context ioc_{1};
    class gateway& gateway_;
    std::vector<std::shared_ptr<websocket_session>> sessions_;
    std::vector<push_target> targets_;
};

void BM_GatewayPush(benchmark::State& state)
{
    auto const count = static_cast<int>(state.range(0));
    gateway_options options;
    options.worker_threads = 1;
    options.io_threads = 1;
    class gateway gw(options, route_table::stratus_default(), nullptr);
    recording_integration backend;
    gw.set_integration(backend);

    constexpr int batch = 16;
    auto const payload = std::string(300, 'x'); // about a message frame with a short text
    auto sessions = std::make_unique<session_set>(gw, backend, count);
    if (static_cast<int>(sessions->targets().size()) != count) {
        state.SkipWithError("not every session registered");
        return;
    }
    int in_batch = 0;
    std::uint64_t sent = 0;
    for (auto _ : state) {
        if (in_batch == batch) {
            state.PauseTiming();
            sessions.reset();
            sessions = std::make_unique<session_set>(gw, backend, count);
            in_batch = 0;
            state.ResumeTiming();
        }
        auto statuses = gw.push(sessions->targets(), payload);
        sent += static_cast<std::uint64_t>(std::count(statuses.begin(), statuses.end(), push_status::sent));
        benchmark::DoNotOptimize(statuses);
        ++in_batch;
    }
    if (sent != static_cast<std::uint64_t>(state.iterations()) * static_cast<std::uint64_t>(count)) {
        state.SkipWithError("some pushes were not accepted");
    }
    state.SetItemsProcessed(state.iterations() * count);
    state.SetLabel("N=" + std::to_string(count));
    sessions.reset();
}
BENCHMARK(BM_GatewayPush)->Arg(10)->Arg(100)->Arg(1000)->UseRealTime();

} // namespace
