// The in-process handler overhead: one event JSON in, the proxy response out,
// through stratus::handler -> chat_service -> memory_store, with a pusher that
// only counts. Per op = one chat message (sendMessage) fanned out to N members.
// Also the fan-out alone (typing: membership check + subscriber list + push).
#include <benchmark/benchmark.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "adapters/memory/memory_store.hpp"
#include "adapters/system/system_clock.hpp"
#include "bench_support.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "gateway/event_builder.hpp"

namespace {

using namespace stratus;

constexpr std::string_view room_name = "bench";
constexpr std::string_view placeholder = "m0000000000000000";

/// A room of `members` connections (one per user), all subscribed, behind a
/// handler. Member 0 sends.
struct room_fixture {
    memory_store store;
    bench::counting_pusher pusher;
    system_clock clock;
    bench::refusing_verifier verifier;
    chat_service service{store, pusher, clock, verifier, bench::unlimited_chat_options()};
    handler entry{service};
    gateway::connection_context sender;

    explicit room_fixture(int members)
    {
        auto const now = clock.now_ms();
        for (int i = 0; i < members; ++i) {
            connection_record record;
            record.connection_id = bench::member_connection_id(i);
            record.user = identity{"user-" + std::to_string(i), "User " + std::to_string(i)};
            record.connected_at_ms = now;
            record.expires_at_s = now / 1000 + 7200;
            record.endpoint = "https://127.0.0.1:8080/local";
            if (!store.put_connection(record) || !store.join_room(room_name, record, now)) {
                throw std::runtime_error("room set-up failed");
            }
        }
        sender.connection_id = bench::member_connection_id(0);
        sender.connected_at_ms = now;
        sender.source_ip = "127.0.0.1";
        sender.host = "127.0.0.1:8080";
        sender.stage = "local";
        sender.api_id = "stratusdev";
    }

    /// The MESSAGE event the gateway would build for `body`.
    [[nodiscard]] std::string event(std::string_view route, std::string_view body) const
    {
        return gateway::event_builder::message_event(
            sender, route, body, "Abcdefghijklmno=", "Mnopqrstuvwxyza=", sender.connected_at_ms + 1000);
    }
};

// sendMessage end to end: parse, connection lookup, membership, append, the
// subscriber list, message frame, one push call for N targets, ack, response JSON.
void BM_HandlerSendMessage(benchmark::State& state)
{
    auto const members = static_cast<int>(state.range(0));
    auto room = std::make_unique<room_fixture>(members);
    auto const body = R"({"action":"sendMessage","room":"bench","text":")" + bench::chat_text() +
                      R"(","clientMsgId":")" + std::string(placeholder) + R"("})";
    auto event = room->event("sendMessage", body);
    auto const at = event.find(placeholder) + 1; // keep the leading 'm'
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        bench::stamp_counter(event, at, placeholder.size() - 1, ++sequence);
        auto response = room->entry.handle(event);
        if (!response || response->find(R"(\"type\":\"ack\")") == std::string::npos) {
            state.SkipWithError("sendMessage was not acknowledged");
            break;
        }
        benchmark::DoNotOptimize(response);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["pushes/msg"] = static_cast<double>(room->pusher.pushes()) /
                                   static_cast<double>(std::max<std::int64_t>(state.iterations(), 1));
    state.SetLabel("N=" + std::to_string(members));
}
BENCHMARK(BM_HandlerSendMessage)->Arg(1)->Arg(10)->Arg(100)->Arg(1000);

// The cheapest routed request (ping: parse, connection lookup, pong): the
// fixed part of every invocation.
void BM_HandlerPing(benchmark::State& state)
{
    auto room = std::make_unique<room_fixture>(1);
    auto const event = room->event("ping", R"({"action":"ping"})");
    for (auto _ : state) {
        auto response = room->entry.handle(event);
        benchmark::DoNotOptimize(response);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HandlerPing);

// chat_service's broadcast (reached through typing, already parsed): the
// membership check, the subscriber list of N, the frame, one push call.
// Items = deliveries enqueued (N - 1: typing skips the sender's user).
void BM_ChatServiceBroadcast(benchmark::State& state)
{
    auto const members = static_cast<int>(state.range(0));
    auto room = std::make_unique<room_fixture>(members);
    auto const parsed = parse_apigw_event(room->event("typing", R"({"action":"typing","room":"bench"})"));
    if (!parsed) {
        state.SkipWithError("typing event did not parse");
        return;
    }
    for (auto _ : state) {
        auto response = room->service.handle(*parsed);
        benchmark::DoNotOptimize(response);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(room->pusher.pushes()));
    state.SetLabel("N=" + std::to_string(members));
}
BENCHMARK(BM_ChatServiceBroadcast)->Arg(10)->Arg(100)->Arg(1000);

// The pusher port call alone for N targets (a counting pusher: the vector of
// statuses is the only work). Items = targets.
void BM_PusherPortCall(benchmark::State& state)
{
    auto const targets_count = static_cast<int>(state.range(0));
    std::vector<push_target> targets;
    for (int i = 0; i < targets_count; ++i) {
        targets.push_back(push_target{bench::member_connection_id(i), "https://127.0.0.1:8080/local"});
    }
    auto const payload = std::string(300, 'x');
    bench::counting_pusher counter;
    pusher& port = counter;
    for (auto _ : state) {
        auto statuses = port.push(targets, payload);
        benchmark::DoNotOptimize(statuses);
    }
    state.SetItemsProcessed(state.iterations() * targets_count);
    state.SetLabel("N=" + std::to_string(targets_count));
}
BENCHMARK(BM_PusherPortCall)->Arg(10)->Arg(100)->Arg(1000);

} // namespace
