// The event JSON of one chat frame: the gateway builds it (event_builder),
// the handler parses it (parse_apigw_event). Both run once per frame.
#include <benchmark/benchmark.h>

#include <string>

#include "bench_support.hpp"
#include "core/apigw_event.hpp"
#include "gateway/event_builder.hpp"

namespace {

using stratus::gateway::connection_context;
using stratus::gateway::event_builder;

constexpr std::int64_t start_ms = 1'764'000'000'000;

connection_context sample_context()
{
    connection_context ctx;
    ctx.connection_id = stratus::bench::member_connection_id(0);
    ctx.connected_at_ms = start_ms;
    ctx.source_ip = "127.0.0.1";
    ctx.user_agent = "Mozilla/5.0 (X11; Linux x86_64) Stratus-bench";
    ctx.host = "127.0.0.1:8080";
    ctx.stage = "local";
    ctx.api_id = "stratusdev";
    return ctx;
}

std::string sample_body()
{
    return R"({"action":"sendMessage","room":"bench","text":")" + stratus::bench::chat_text() +
           R"(","clientMsgId":"m0000000000000001"})";
}

// event_builder::message_event: requestContext + body, dumped once.
void BM_EventBuildMessage(benchmark::State& state)
{
    auto const ctx = sample_context();
    auto const body = sample_body();
    std::int64_t now = start_ms;
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto event = event_builder::message_event(ctx, "sendMessage", body,
                                                  "Abcdefghijklmno=", "Mnopqrstuvwxyza=", ++now);
        bytes = event.size();
        benchmark::DoNotOptimize(event);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["event_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EventBuildMessage);

// parse_apigw_event on the same MESSAGE event.
void BM_EventParseMessage(benchmark::State& state)
{
    auto const event = event_builder::message_event(sample_context(), "sendMessage", sample_body(),
                                                    "Abcdefghijklmno=", "Mnopqrstuvwxyza=", start_ms);
    for (auto _ : state) {
        auto parsed = stratus::parse_apigw_event(event);
        if (!parsed) {
            state.SkipWithError("event did not parse");
            break;
        }
        benchmark::DoNotOptimize(parsed);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["event_bytes"] = static_cast<double>(event.size());
}
BENCHMARK(BM_EventParseMessage);

} // namespace
