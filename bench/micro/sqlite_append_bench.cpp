// sqlite_store::append_message on a file (WAL) in a fresh temporary directory,
// with synchronous=NORMAL (the default) and FULL (an fsync per commit). The
// directory is under $TMPDIR (default /tmp): put it on the disk you care about.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/system/system_clock.hpp"
#include "bench_support.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "gateway/event_builder.hpp"

namespace {

using namespace stratus;

/// A fresh directory, removed with everything in it at the end of the scope.
class temp_dir {
public:
    temp_dir()
    {
        auto pattern = (std::filesystem::temp_directory_path() / "stratus-micro-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~temp_dir()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(temp_dir const&) = delete;
    temp_dir& operator=(temp_dir const&) = delete;

    [[nodiscard]] std::filesystem::path const& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::unique_ptr<sqlite_store> open_store(temp_dir const& dir, bool synchronous_full)
{
    sqlite_options options;
    options.synchronous_full = synchronous_full;
    auto store = sqlite_store::open(dir.path() / "bench.db", options);
    if (!store) {
        throw std::runtime_error("cannot open the SQLite store: " + store.error().detail);
    }
    return std::move(*store);
}

connection_record member(int i, std::int64_t now_ms)
{
    connection_record record;
    record.connection_id = bench::member_connection_id(i);
    record.user = identity{"user-" + std::to_string(i), "User " + std::to_string(i)};
    record.connected_at_ms = now_ms;
    record.expires_at_s = now_ms / 1000 + 7200;
    record.endpoint = "https://127.0.0.1:8080/local";
    return record;
}

// One append transaction: dedupe check, room head, message and dedupe record.
void BM_SqliteAppend(benchmark::State& state)
{
    bool const full = state.range(0) != 0;
    temp_dir dir;
    auto store = open_store(dir, full);
    system_clock clock;
    auto const now = clock.now_ms();
    auto const sender = member(0, now);
    if (!store->put_connection(sender) || !store->join_room("bench", sender, now)) {
        state.SkipWithError("room set-up failed");
        return;
    }
    new_message message;
    message.room = "bench";
    message.from = sender.user;
    message.text = bench::chat_text();
    message.client_msg_id = "m0000000000000000";
    message.id = "01JBENCH00000000000000000";
    message.ts_ms = now;
    message.dedupe_expires_at_s = now / 1000 + 86400;
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        bench::stamp_counter(message.client_msg_id, 1, message.client_msg_id.size() - 1, ++sequence);
        auto appended = store->append_message(message);
        if (!appended) {
            state.SkipWithError(appended.error().detail.c_str());
            break;
        }
        benchmark::DoNotOptimize(appended);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(full ? "synchronous=FULL" : "synchronous=NORMAL");
}
BENCHMARK(BM_SqliteAppend)->ArgName("full")->Arg(0)->Arg(1)->UseRealTime();

// sendMessage end to end on the local emulator's default store (SQLite file,
// synchronous=NORMAL) with a counting pusher: what `stratus dev` does per frame
// before the gateway's own enqueue.
void BM_HandlerSendMessageSqlite(benchmark::State& state)
{
    auto const members = static_cast<int>(state.range(0));
    temp_dir dir;
    auto store = open_store(dir, false);
    system_clock clock;
    bench::counting_pusher pusher;
    bench::refusing_verifier verifier;
    chat_service service{*store, pusher, clock, verifier, bench::unlimited_chat_options()};
    handler entry{service};
    auto const now = clock.now_ms();
    for (int i = 0; i < members; ++i) {
        auto const record = member(i, now);
        if (!store->put_connection(record) || !store->join_room("bench", record, now)) {
            state.SkipWithError("room set-up failed");
            return;
        }
    }
    gateway::connection_context ctx;
    ctx.connection_id = bench::member_connection_id(0);
    ctx.connected_at_ms = now;
    ctx.source_ip = "127.0.0.1";
    ctx.host = "127.0.0.1:8080";
    ctx.stage = "local";
    ctx.api_id = "stratusdev";
    constexpr std::string_view placeholder = "m0000000000000000";
    auto event = gateway::event_builder::message_event(ctx, "sendMessage",
                                                       R"({"action":"sendMessage","room":"bench","text":")" +
                                                           bench::chat_text() + R"(","clientMsgId":")" +
                                                           std::string(placeholder) + R"("})",
                                                       "Abcdefghijklmno=", "Mnopqrstuvwxyza=", now + 1000);
    auto const at = event.find(placeholder) + 1;
    std::uint64_t sequence = 0;
    for (auto _ : state) {
        bench::stamp_counter(event, at, placeholder.size() - 1, ++sequence);
        auto response = entry.handle(event);
        if (!response || response->find(R"(\"type\":\"ack\")") == std::string::npos) {
            state.SkipWithError("sendMessage was not acknowledged");
            break;
        }
        benchmark::DoNotOptimize(response);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel("N=" + std::to_string(members));
}
BENCHMARK(BM_HandlerSendMessageSqlite)->Arg(10)->Arg(100)->UseRealTime();

} // namespace
