#include "adapters/sqlite/sqlite_store.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace stratus {
namespace {

constexpr std::int64_t now_s = 1'700'000'000;
constexpr std::int64_t now_ms = now_s * 1000;

connection_record connection(std::string const& id, std::string const& user)
{
    return connection_record{id, identity{user, "name of " + user}, now_ms, now_s + 7200, ""};
}

new_message message(std::string const& room, std::string const& user, std::string const& client_msg_id,
                    std::int64_t dedupe_expires_at_s = now_s + 86400)
{
    new_message m;
    m.room = room;
    m.from = identity{user, "name of " + user};
    m.text = "text of " + client_msg_id;
    m.client_msg_id = client_msg_id;
    m.id = "id-" + client_msg_id;
    m.ts_ms = now_ms;
    m.dedupe_expires_at_s = dedupe_expires_at_s;
    return m;
}

/// A second, plain connection to a database file, as another process would have.
class raw_connection {
public:
    explicit raw_connection(std::filesystem::path const& file)
    {
        sqlite3* raw = nullptr;
        sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_.reset(raw);
    }

    /// Runs statements; returns the SQLite result code.
    int exec(char const* statements)
    {
        return sqlite3_exec(db_.get(), statements, nullptr, nullptr, nullptr);
    }

    /// The first column of the first row as text ("" when there is none).
    std::string text(char const* query)
    {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(db_.get(), query, -1, &raw, nullptr) != SQLITE_OK) {
            return "prepare failed: " + std::string(sqlite3_errmsg(db_.get()));
        }
        std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> statement(raw, &sqlite3_finalize);
        if (sqlite3_step(raw) != SQLITE_ROW) {
            return {};
        }
        auto const* value = sqlite3_column_text(raw, 0);
        return value == nullptr ? std::string{} : std::string(reinterpret_cast<char const*>(value));
    }

private:
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db_{nullptr, &sqlite3_close};
};

class SqliteStore : public ::testing::Test {
protected:
    void SetUp() override
    {
        auto pattern = (std::filesystem::temp_directory_path() / "stratus-sqlite-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        directory_ = pattern;
        file_ = directory_ / "stratus.db";
    }

    void TearDown() override
    {
        std::error_code ignored;
        std::filesystem::remove_all(directory_, ignored);
    }

    std::unique_ptr<sqlite_store> open_store(sqlite_options const& options = {})
    {
        auto opened = sqlite_store::open(file_, options);
        EXPECT_TRUE(opened) << opened.error().detail;
        return opened ? std::move(*opened) : nullptr;
    }

    std::filesystem::path directory_;
    std::filesystem::path file_;
};

TEST_F(SqliteStore, DataSurvivesCloseAndReopen)
{
    {
        auto s = open_store();
        ASSERT_NE(s, nullptr);
        ASSERT_TRUE(s->put_connection(connection("c1", "alice")));
        ASSERT_TRUE(s->join_room("lobby", connection("c1", "alice"), now_ms));
        for (int i = 1; i <= 3; ++i) {
            ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-" + std::to_string(i))));
        }
        ASSERT_TRUE(s->mark_read("lobby", "alice", 2));
    }
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->last_seq("lobby").value_or(-1), 3);
    EXPECT_TRUE(s->is_member("lobby", "alice").value_or(false));
    auto page = s->history(history_query{"lobby", 0, std::nullopt, 10});
    ASSERT_TRUE(page);
    ASSERT_EQ(page->messages.size(), 3u);
    EXPECT_EQ(page->messages[2].text, "text of cm-3");
    auto rooms = s->list_rooms("alice", now_s);
    ASSERT_TRUE(rooms);
    ASSERT_EQ(rooms->size(), 1u);
    EXPECT_EQ((*rooms)[0].last_read_seq, 2);
    EXPECT_TRUE(s->get_connection("c1", now_s).value_or(std::nullopt).has_value());
    // Dedupe records are durable too: a retry after a restart is still a duplicate.
    auto retry = s->append_message(message("lobby", "alice", "cm-2"));
    ASSERT_TRUE(retry);
    EXPECT_TRUE(retry->duplicate);
    EXPECT_EQ(retry->message.seq, 2);
}

TEST_F(SqliteStore, CommittedMessagesSurviveKillNine)
{
    auto const child = ::fork();
    ASSERT_NE(child, -1);
    if (child == 0) {
        // The child commits, then dies without closing anything.
        auto opened = sqlite_store::open(file_, sqlite_options{});
        if (!opened) {
            ::_exit(1);
        }
        for (int i = 1; i <= 5; ++i) {
            if (!(*opened)->append_message(message("lobby", "alice", "cm-" + std::to_string(i)))) {
                ::_exit(2);
            }
        }
        ::kill(::getpid(), SIGKILL);
        ::_exit(3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    ASSERT_EQ(WTERMSIG(status), SIGKILL);

    auto s = open_store();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->last_seq("lobby").value_or(-1), 5);
    auto page = s->history(history_query{"lobby", 0, std::nullopt, 10});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->messages.size(), 5u);
    EXPECT_EQ(s->integrity_check().value_or(""), "ok");
}

TEST_F(SqliteStore, UsesWriteAheadLog)
{
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    raw_connection other(file_);
    EXPECT_EQ(other.text("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStore, FreshFileGetsCurrentSchemaVersionAndReopenIsNoop)
{
    ASSERT_NE(open_store(), nullptr);
    {
        raw_connection other(file_);
        EXPECT_EQ(other.text("PRAGMA user_version"), std::to_string(sqlite_store::schema_version));
        EXPECT_EQ(other.text("SELECT count(*) FROM sqlite_master WHERE type = 'table'"), "6");
    }
    {
        auto s = open_store();
        ASSERT_NE(s, nullptr);
        ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-1")));
    }
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->last_seq("lobby").value_or(-1), 1);
    raw_connection other(file_);
    EXPECT_EQ(other.text("PRAGMA user_version"), std::to_string(sqlite_store::schema_version));
}

TEST_F(SqliteStore, NewerSchemaVersionFailsToOpen)
{
    ASSERT_NE(open_store(), nullptr);
    auto const newer = std::to_string(sqlite_store::schema_version + 1);
    {
        raw_connection other(file_);
        ASSERT_EQ(other.exec(("PRAGMA user_version = " + newer).c_str()), SQLITE_OK);
    }
    auto opened = sqlite_store::open(file_, sqlite_options{});
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, errc::internal);
    EXPECT_NE(opened.error().detail.find("schema version " + newer + " is newer"), std::string::npos)
        << opened.error().detail;
    raw_connection other(file_);
    EXPECT_EQ(other.text("PRAGMA user_version"), newer) << "a refused open changes nothing";
}

TEST_F(SqliteStore, FailedMigrationLeavesNothingBehind)
{
    {
        // A table in the way makes step 1 fail half-way through.
        raw_connection other(file_);
        ASSERT_EQ(other.exec("CREATE TABLE dedupe (x)"), SQLITE_OK);
    }
    auto opened = sqlite_store::open(file_, sqlite_options{});
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().detail.find("migration to schema version 1"), std::string::npos)
        << opened.error().detail;
    raw_connection other(file_);
    EXPECT_EQ(other.text("PRAGMA user_version"), "0");
    EXPECT_EQ(other.text("SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'"), "dedupe");
}

TEST_F(SqliteStore, PurgeConnectionsKeepsMembershipAndMessages)
{
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    for (auto const& c : {connection("c1", "alice"), connection("c2", "bob")}) {
        ASSERT_TRUE(s->put_connection(c));
        ASSERT_TRUE(s->join_room("lobby", c, now_ms));
    }
    ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-1")));

    ASSERT_TRUE(s->purge_connections());
    EXPECT_FALSE(s->get_connection("c1", now_s).value_or(connection("x", "x")).has_value());
    EXPECT_TRUE(s->subscribers("lobby", now_s).value_or(std::vector<subscriber>{{"x", {}, ""}}).empty());
    EXPECT_TRUE(s->is_member("lobby", "alice").value_or(false));
    EXPECT_TRUE(s->is_member("lobby", "bob").value_or(false));
    EXPECT_EQ(s->last_seq("lobby").value_or(-1), 1);
    raw_connection other(file_);
    EXPECT_EQ(other.text("SELECT count(*) FROM subscriptions"), "0");
    EXPECT_EQ(other.text("SELECT count(*) FROM connections"), "0");
}

TEST_F(SqliteStore, IntegrityCheckIsOk)
{
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-1")));
    auto report = s->integrity_check();
    ASSERT_TRUE(report) << report.error().detail;
    EXPECT_EQ(*report, "ok");
}

TEST_F(SqliteStore, OpenInMissingDirectoryIsAnError)
{
    auto opened = sqlite_store::open(directory_ / "missing" / "stratus.db", sqlite_options{});
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().detail.find("missing"), std::string::npos) << opened.error().detail;
}

TEST_F(SqliteStore, OpenOfAFileThatIsNotADatabaseIsAnError)
{
    {
        std::ofstream garbage(file_, std::ios::binary);
        for (int i = 0; i < 512; ++i) {
            garbage << "this is not a database ";
        }
    }
    auto opened = sqlite_store::open(file_, sqlite_options{});
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, errc::internal);
    EXPECT_NE(opened.error().detail.find("not a database"), std::string::npos) << opened.error().detail;
}

TEST_F(SqliteStore, WritesBlockedByAnotherProcessFailCleanly)
{
    sqlite_options options;
    options.busy_timeout_ms = 50;
    auto s = open_store(options);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->put_connection(connection("c1", "alice")));
    ASSERT_TRUE(s->join_room("lobby", connection("c1", "alice"), now_ms));
    ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-1")));

    raw_connection other(file_);
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);

    auto blocked = s->append_message(message("lobby", "alice", "cm-2"));
    ASSERT_FALSE(blocked);
    EXPECT_EQ(blocked.error().code, errc::unavailable) << blocked.error().detail;
    auto join = s->join_room("lobby", connection("c2", "bob"), now_ms);
    ASSERT_FALSE(join);
    EXPECT_EQ(join.error().code, errc::unavailable);
    auto put = s->put_connection(connection("c3", "carol"));
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().code, errc::unavailable);
    // Readers are not blocked by a writer in WAL mode.
    EXPECT_EQ(s->last_seq("lobby").value_or(-1), 1);

    ASSERT_EQ(other.exec("ROLLBACK"), SQLITE_OK);
    // Nothing of the failed calls was written; the next append takes seq 2.
    auto appended = s->append_message(message("lobby", "alice", "cm-2"));
    ASSERT_TRUE(appended) << appended.error().detail;
    EXPECT_FALSE(appended->duplicate);
    EXPECT_EQ(appended->message.seq, 2);
    EXPECT_FALSE(s->is_member("lobby", "bob").value_or(true));
    auto page = s->history(history_query{"lobby", 0, std::nullopt, 10});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->messages.size(), 2u);
    EXPECT_EQ(s->integrity_check().value_or(""), "ok");
}

TEST_F(SqliteStore, TwoStoresOnOneFileStayGapFree)
{
    // Two stores stand for two processes sharing the file.
    auto first = open_store();
    auto second = open_store();
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    constexpr int threads = 4;
    constexpr int per_thread = 50;
    std::vector<std::vector<std::int64_t>> seqs(2 * threads);
    std::latch start(2 * threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < 2 * threads; ++t) {
        auto* const target = t % 2 == 0 ? first.get() : second.get();
        workers.emplace_back([&, t, target] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                auto appended =
                    target->append_message(message("busy", "user" + std::to_string(t), std::to_string(i)));
                seqs[static_cast<std::size_t>(t)].push_back(appended ? appended->message.seq : -1);
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    std::set<std::int64_t> all;
    for (auto const& own : seqs) {
        all.insert(own.begin(), own.end());
    }
    EXPECT_EQ(all.size(), static_cast<std::size_t>(2 * threads * per_thread));
    EXPECT_EQ(*all.begin(), 1);
    EXPECT_EQ(*all.rbegin(), 2 * threads * per_thread);
    EXPECT_EQ(first->last_seq("busy").value_or(-1), 2 * threads * per_thread);
}

TEST_F(SqliteStore, ExpiredDedupeRecordsArePurgedEveryThousandAppends)
{
    auto s = open_store();
    ASSERT_NE(s, nullptr);
    // Ten live records, then 990 that have already expired when written.
    for (int i = 0; i < 1000; ++i) {
        auto const expires = i < 10 ? now_s + 86400 : now_s;
        ASSERT_TRUE(s->append_message(message("lobby", "alice", "cm-" + std::to_string(i), expires)));
    }
    raw_connection other(file_);
    EXPECT_EQ(other.text("SELECT count(*) FROM dedupe"), "10");
    EXPECT_EQ(other.text("SELECT count(*) FROM messages"), "1000");
    auto retry = s->append_message(message("lobby", "alice", "cm-3"));
    ASSERT_TRUE(retry);
    EXPECT_TRUE(retry->duplicate);
}

TEST_F(SqliteStore, SynchronousFullOpensAndWorks)
{
    sqlite_options options;
    options.synchronous_full = true;
    auto s = open_store(options);
    ASSERT_NE(s, nullptr);
    auto appended = s->append_message(message("lobby", "alice", "cm-1"));
    ASSERT_TRUE(appended);
    EXPECT_EQ(appended->message.seq, 1);
}

} // namespace
} // namespace stratus
