#include "adapters/sqlite/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <limits>
#include <type_traits>
#include <utility>

#include <sqlite3.h>

namespace stratus {

namespace {

// Migration steps, in order: step i takes the schema from version i to i + 1.
// Never edit a released step; append a new one and raise schema_version.
constexpr std::array<char const*, sqlite_store::schema_version> migrations = {
    // 1: the initial schema. Every hot-path access is a primary-key or index lookup.
    R"sql(
    CREATE TABLE connections (
        id              TEXT    NOT NULL PRIMARY KEY,
        user_id         TEXT    NOT NULL,
        name            TEXT    NOT NULL,
        connected_at_ms INTEGER NOT NULL,
        expires_at_s    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX connections_by_user ON connections (user_id);

    CREATE TABLE rooms (
        name          TEXT    NOT NULL PRIMARY KEY,
        last_seq      INTEGER NOT NULL,
        created_by    TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE members (
        room          TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        joined_at_ms  INTEGER NOT NULL,
        last_read_seq INTEGER NOT NULL,
        PRIMARY KEY (room, user_id)
    ) WITHOUT ROWID;

    CREATE TABLE subscriptions (
        room          TEXT NOT NULL,
        connection_id TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        name          TEXT NOT NULL,
        PRIMARY KEY (room, connection_id)
    ) WITHOUT ROWID;
    CREATE INDEX subscriptions_by_connection ON subscriptions (connection_id);
    CREATE INDEX subscriptions_by_user ON subscriptions (room, user_id);

    CREATE TABLE messages (
        room          TEXT    NOT NULL,
        seq           INTEGER NOT NULL,
        id            TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        text          TEXT    NOT NULL,
        ts_ms         INTEGER NOT NULL,
        client_msg_id TEXT    NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;

    CREATE TABLE dedupe (
        user_id       TEXT    NOT NULL,
        client_msg_id TEXT    NOT NULL,
        room          TEXT    NOT NULL,
        seq           INTEGER NOT NULL,
        expires_at_s  INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_msg_id)
    ) WITHOUT ROWID;
    CREATE INDEX dedupe_by_expiry ON dedupe (expires_at_s);
    )sql",
    // 2: the @connections endpoint of the gateway holding each connection.
    R"sql(
    ALTER TABLE connections ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
    )sql",
};

// Appends between two purges of expired dedupe records, and the batch size.
constexpr int purge_interval = 1000;
constexpr std::int64_t purge_batch = 1000;

// Every statement the store runs; each is prepared once and cached.
namespace sql {

constexpr std::string_view begin = "BEGIN IMMEDIATE";
constexpr std::string_view commit = "COMMIT";
constexpr std::string_view rollback = "ROLLBACK";

constexpr std::string_view put_connection =
    "INSERT INTO connections (id, user_id, name, connected_at_ms, expires_at_s, endpoint) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, "
    "connected_at_ms = excluded.connected_at_ms, expires_at_s = excluded.expires_at_s, "
    "endpoint = excluded.endpoint";
constexpr std::string_view get_connection =
    "SELECT id, user_id, name, connected_at_ms, expires_at_s, endpoint "
    "FROM connections WHERE id = ?1 AND expires_at_s > ?2";
constexpr std::string_view find_connection =
    "SELECT id, user_id, name, connected_at_ms, expires_at_s, endpoint FROM connections WHERE id = ?1";
constexpr std::string_view delete_connection = "DELETE FROM connections WHERE id = ?1";
// Rooms of the connection where its user (?2) has no other subscription.
constexpr std::string_view rooms_going_offline =
    "SELECT s.room FROM subscriptions s WHERE s.connection_id = ?1 AND NOT EXISTS ("
    "SELECT 1 FROM subscriptions o WHERE o.room = s.room AND o.user_id = ?2 AND o.connection_id <> ?1) "
    "ORDER BY s.room";
constexpr std::string_view delete_connection_subscriptions =
    "DELETE FROM subscriptions WHERE connection_id = ?1";

constexpr std::string_view create_room =
    "INSERT INTO rooms (name, last_seq, created_by, created_at_ms) VALUES (?1, 0, ?2, ?3) "
    "ON CONFLICT (name) DO NOTHING";
// A new member starts with nothing unread.
constexpr std::string_view add_member =
    "INSERT INTO members (room, user_id, joined_at_ms, last_read_seq) "
    "SELECT ?1, ?2, ?3, last_seq FROM rooms WHERE name = ?1 ON CONFLICT (room, user_id) DO NOTHING";
constexpr std::string_view user_online_elsewhere =
    "SELECT EXISTS (SELECT 1 FROM subscriptions s JOIN connections c ON c.id = s.connection_id "
    "WHERE s.room = ?1 AND s.user_id = ?2 AND s.connection_id <> ?3 AND c.expires_at_s > ?4)";
constexpr std::string_view subscribe =
    "INSERT INTO subscriptions (room, connection_id, user_id, name) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (room, connection_id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name";
// Distinct live users; the joiner (?2) counts even without a connection record.
// The bare name comes from the row with the smallest connection id.
constexpr std::string_view online_users =
    "SELECT s.user_id, s.name, MIN(s.connection_id) FROM subscriptions s "
    "LEFT JOIN connections c ON c.id = s.connection_id "
    "WHERE s.room = ?1 AND (s.connection_id = ?2 OR c.expires_at_s > ?3) "
    "GROUP BY s.user_id ORDER BY s.user_id";

constexpr std::string_view remove_member = "DELETE FROM members WHERE room = ?1 AND user_id = ?2";
constexpr std::string_view user_subscriptions =
    "SELECT s.connection_id, s.user_id, s.name, COALESCE(c.endpoint, '') FROM subscriptions s "
    "LEFT JOIN connections c ON c.id = s.connection_id WHERE s.room = ?1 AND s.user_id = ?2 "
    "ORDER BY s.connection_id";
constexpr std::string_view unsubscribe_user = "DELETE FROM subscriptions WHERE room = ?1 AND user_id = ?2";
constexpr std::string_view is_member = "SELECT 1 FROM members WHERE room = ?1 AND user_id = ?2";

// The fan-out list: a range of the subscriptions primary key, then one
// primary-key lookup per subscription to filter expired connections.
constexpr std::string_view subscribers =
    "SELECT s.connection_id, s.user_id, s.name, c.endpoint FROM subscriptions s "
    "JOIN connections c ON c.id = s.connection_id "
    "WHERE s.room = ?1 AND c.expires_at_s > ?2 ORDER BY s.connection_id";

constexpr std::string_view list_rooms =
    "SELECT r.name, r.last_seq, "
    "(SELECT COUNT(DISTINCT s.user_id) FROM subscriptions s JOIN connections c ON c.id = s.connection_id "
    "WHERE s.room = r.name AND c.expires_at_s > ?2), "
    "m.last_read_seq IS NOT NULL, COALESCE(m.last_read_seq, 0) "
    "FROM rooms r LEFT JOIN members m ON m.room = r.name AND m.user_id = ?1 ORDER BY r.name";

constexpr std::string_view find_dedupe =
    "SELECT room, seq, expires_at_s FROM dedupe WHERE user_id = ?1 AND client_msg_id = ?2";
constexpr std::string_view advance_room =
    "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ?1 RETURNING last_seq";
constexpr std::string_view insert_message =
    "INSERT INTO messages (room, seq, id, user_id, name, text, ts_ms, client_msg_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view upsert_dedupe =
    "INSERT INTO dedupe (user_id, client_msg_id, room, seq, expires_at_s) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (user_id, client_msg_id) DO UPDATE SET room = excluded.room, seq = excluded.seq, "
    "expires_at_s = excluded.expires_at_s";
constexpr std::string_view purge_dedupe =
    "DELETE FROM dedupe WHERE (user_id, client_msg_id) IN ("
    "SELECT user_id, client_msg_id FROM dedupe WHERE expires_at_s <= ?1 LIMIT ?2)";

constexpr std::string_view get_message = "SELECT room, seq, id, user_id, name, text, ts_ms, client_msg_id "
                                         "FROM messages WHERE room = ?1 AND seq = ?2";
constexpr std::string_view history_after =
    "SELECT room, seq, id, user_id, name, text, ts_ms, client_msg_id FROM messages "
    "WHERE room = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3";
constexpr std::string_view history_before =
    "SELECT room, seq, id, user_id, name, text, ts_ms, client_msg_id FROM messages "
    "WHERE room = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";

// Raises the read position to min(seq, last_seq), never lowering it.
constexpr std::string_view mark_read =
    "UPDATE members SET last_read_seq = MAX(last_read_seq, MIN(?3, "
    "(SELECT last_seq FROM rooms WHERE name = ?1))) WHERE room = ?1 AND user_id = ?2 RETURNING last_read_seq";
constexpr std::string_view last_seq = "SELECT last_seq FROM rooms WHERE name = ?1";

constexpr std::string_view delete_all_subscriptions = "DELETE FROM subscriptions";
constexpr std::string_view delete_all_connections = "DELETE FROM connections";

} // namespace sql

/// Maps a SQLite result code onto the port's error categories.
error sqlite_error(sqlite3* db, int rc, std::string_view what)
{
    auto const primary = rc & 0xff;
    auto const code = (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL ||
                       primary == SQLITE_IOERR)
                          ? errc::unavailable
                          : errc::internal;
    std::string detail = "sqlite: ";
    detail += what;
    detail += ": ";
    // errmsg describes the most recent failed call on db; errstr is the generic text.
    detail += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    detail += " (code " + std::to_string(rc) + ")";
    return error{code, std::move(detail)};
}

/// The failure side of a result<T>, from an error another call returned.
auto failed(error const& e)
{
    return fail(e.code, e.detail);
}

int bind_value(sqlite3_stmt* statement, int index, std::string_view value)
{
    // A null data pointer would bind SQL NULL; an empty text must stay text.
    char const* data = value.empty() ? "" : value.data();
    // A null destructor is SQLITE_STATIC: the text outlives the statement use,
    // because every use ends with sqlite3_clear_bindings.
    return sqlite3_bind_text64(statement, index, data, value.size(), nullptr, SQLITE_UTF8);
}

int bind_value(sqlite3_stmt* statement, int index, std::int64_t value)
{
    return sqlite3_bind_int64(statement, index, value);
}

/// One use of a cached statement: binds, steps, reads columns, and resets the
/// statement (and clears its bindings) when it goes out of scope.
class statement_use {
public:
    statement_use(sqlite3* db, sqlite3_stmt* statement) noexcept : db_(db), statement_(statement) {}
    statement_use(statement_use&& other) noexcept
        : db_(other.db_), statement_(std::exchange(other.statement_, nullptr))
    {
    }
    statement_use(statement_use const&) = delete;
    statement_use& operator=(statement_use const&) = delete;
    statement_use& operator=(statement_use&&) = delete;
    ~statement_use()
    {
        if (statement_ != nullptr) {
            sqlite3_reset(statement_);
            sqlite3_clear_bindings(statement_);
        }
    }

    template <class... Values>
    result<void> bind(Values const&... values)
    {
        int index = 0;
        int rc = SQLITE_OK;
        ((rc = rc == SQLITE_OK ? bind_value(statement_, ++index, values) : rc), ...);
        if (rc != SQLITE_OK) {
            return failed(sqlite_error(db_, rc, "bind"));
        }
        return {};
    }

    /// Steps once: true when a row is ready, false when the statement is done.
    result<bool> next()
    {
        auto const rc = sqlite3_step(statement_);
        if (rc == SQLITE_ROW) {
            return true;
        }
        if (rc == SQLITE_DONE) {
            return false;
        }
        return failed(sqlite_error(db_, rc, sqlite3_sql(statement_)));
    }

    /// Steps through the rows, calling `on_row(*this)` for each; it returns
    /// false to stop early (or nothing, to read every row).
    template <class OnRow>
    result<void> each_row(OnRow&& on_row)
    {
        for (;;) {
            auto row = next();
            if (!row) {
                return failed(row.error());
            }
            if (!*row) {
                return {};
            }
            if constexpr (std::is_same_v<decltype(on_row(*this)), bool>) {
                if (!on_row(*this)) {
                    return {};
                }
            } else {
                on_row(*this);
            }
        }
    }

    /// Steps to the end, ignoring any rows.
    result<void> run()
    {
        return each_row([](statement_use const&) {});
    }

    std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }

    std::string text(int column) const
    {
        auto const* data = sqlite3_column_text(statement_, column);
        auto const size = sqlite3_column_bytes(statement_, column);
        if (data == nullptr) {
            return {};
        }
        return std::string(reinterpret_cast<char const*>(data), static_cast<std::size_t>(size));
    }

private:
    sqlite3* db_;
    sqlite3_stmt* statement_;
};

/// Binds `values` to a prepared statement for one use. Text is bound without
/// a copy, so every value must outlive the returned statement_use.
template <class... Values>
result<statement_use> start(sqlite3* db, result<sqlite3_stmt*> const& statement, Values const&... values)
{
    if (!statement) {
        return failed(statement.error());
    }
    statement_use use(db, *statement);
    if (auto bound = use.bind(values...); !bound) {
        return failed(bound.error());
    }
    return use;
}

/// Reads a row of "room, seq, id, user_id, name, text, ts_ms, client_msg_id".
stored_message read_message(statement_use const& row)
{
    stored_message message;
    message.room = row.text(0);
    message.seq = row.integer(1);
    message.id = row.text(2);
    message.from.user_id = row.text(3);
    message.from.name = row.text(4);
    message.text = row.text(5);
    message.ts_ms = row.integer(6);
    message.client_msg_id = row.text(7);
    return message;
}

/// Runs one or more statements without results (open-time configuration).
result<void> execute(sqlite3* db, char const* statements, std::string_view what)
{
    char* message = nullptr;
    auto const rc = sqlite3_exec(db, statements, nullptr, nullptr, &message);
    sqlite3_free(message); // sqlite3_errmsg(db) carries the same text
    if (rc != SQLITE_OK) {
        return failed(sqlite_error(db, rc, what));
    }
    return {};
}

/// Runs a one-row query at open time and returns its first column as text.
result<std::string> query_text(sqlite3* db, char const* query)
{
    sqlite3_stmt* raw = nullptr;
    auto const rc = sqlite3_prepare_v2(db, query, -1, &raw, nullptr);
    if (rc != SQLITE_OK) {
        return failed(sqlite_error(db, rc, query));
    }
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(raw, &sqlite3_finalize);
    statement_use use(db, raw);
    auto row = use.next();
    if (!row) {
        return failed(row.error());
    }
    return *row ? use.text(0) : std::string{};
}

/// Brings the schema up to sqlite_store::schema_version, one transaction per step.
result<void> migrate(sqlite3* db)
{
    for (;;) {
        // The write lock is taken before the version is read, so two
        // processes opening one new file cannot both run a step.
        if (auto begun = execute(db, "BEGIN IMMEDIATE", "begin migration"); !begun) {
            return begun;
        }
        auto version = query_text(db, "PRAGMA user_version");
        if (!version) {
            static_cast<void>(execute(db, "ROLLBACK", "rollback"));
            return failed(version.error());
        }
        auto const current = std::stoi(*version);
        if (current > sqlite_store::schema_version) {
            static_cast<void>(execute(db, "ROLLBACK", "rollback"));
            return fail(errc::internal, "sqlite: database schema version " + std::to_string(current) +
                                            " is newer than this build supports (" +
                                            std::to_string(sqlite_store::schema_version) +
                                            "); use a newer Stratus or another file");
        }
        if (current == sqlite_store::schema_version) {
            return execute(db, "COMMIT", "commit");
        }
        auto const next = current + 1;
        auto const step_name = "migration to schema version " + std::to_string(next);
        auto stepped = execute(db, migrations[static_cast<std::size_t>(current)], step_name);
        if (stepped) {
            auto const set_version = "PRAGMA user_version = " + std::to_string(next);
            stepped = execute(db, set_version.c_str(), step_name);
        }
        if (stepped) {
            stepped = execute(db, "COMMIT", step_name);
        }
        if (!stepped) {
            if (sqlite3_get_autocommit(db) == 0) {
                static_cast<void>(execute(db, "ROLLBACK", "rollback"));
            }
            return stepped;
        }
    }
}

} // namespace

void sqlite_store::database_closer::operator()(sqlite3* db) const noexcept
{
    sqlite3_close_v2(db);
}

void sqlite_store::statement_finalizer::operator()(sqlite3_stmt* statement) const noexcept
{
    sqlite3_finalize(statement);
}

sqlite_store::sqlite_store(database_ptr db) : db_(std::move(db)) {}

sqlite_store::~sqlite_store() = default;

result<std::unique_ptr<sqlite_store>> sqlite_store::open(std::filesystem::path const& file,
                                                         sqlite_options const& options)
{
    try {
        auto const name = file.string();
        sqlite3* raw = nullptr;
        auto const rc = sqlite3_open_v2(
            name.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        // A handle is returned even on failure (unless out of memory) and must be closed.
        database_ptr db(raw);
        if (rc != SQLITE_OK) {
            return failed(sqlite_error(raw, rc, "open '" + name + "'"));
        }
        sqlite3_extended_result_codes(raw, 1);
        sqlite3_busy_timeout(raw, options.busy_timeout_ms);

        // WAL lets readers proceed during a write and makes commits cheap. An
        // in-memory database reports "memory" and cannot use WAL.
        auto mode = query_text(raw, "PRAGMA journal_mode = WAL");
        if (!mode) {
            return failed(mode.error());
        }
        if (*mode != "wal" && *mode != "memory") {
            return fail(errc::internal,
                        "sqlite: cannot enable WAL on '" + name + "' (journal_mode is " + *mode + ")");
        }
        auto const synchronous =
            options.synchronous_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
        if (auto configured = execute(raw, synchronous, "set synchronous"); !configured) {
            return failed(configured.error());
        }
        if (auto migrated = migrate(raw); !migrated) {
            return failed(migrated.error());
        }
        return std::unique_ptr<sqlite_store>(new sqlite_store(std::move(db)));
    } catch (std::exception const& e) {
        return fail(errc::internal, std::string("sqlite: open failed: ") + e.what());
    }
}

result<sqlite3_stmt*> sqlite_store::prepare(std::string_view sql)
{
    if (auto const it = statements_.find(sql); it != statements_.end()) {
        return it->second.get();
    }
    sqlite3_stmt* raw = nullptr;
    auto const rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                       SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    statement_ptr statement(raw);
    if (rc != SQLITE_OK) {
        return failed(sqlite_error(db_.get(), rc, sql));
    }
    statements_.emplace(sql, std::move(statement));
    return raw;
}

template <class Body>
auto sqlite_store::guarded(Body&& body) -> decltype(body())
{
    try {
        std::lock_guard lock(mutex_);
        return body();
    } catch (std::exception const& e) {
        return fail(errc::internal, std::string("sqlite: ") + e.what());
    }
}

template <class Body>
auto sqlite_store::in_transaction(Body&& body) -> decltype(body())
{
    auto* const db = db_.get();
    auto const roll_back = [this, db] {
        // Some failures (disk full, I/O) already ended the transaction.
        if (sqlite3_get_autocommit(db) == 0) {
            if (auto use = start(db, prepare(sql::rollback)); use) {
                static_cast<void>(use->run());
            }
        }
    };
    if (auto begun = start(db, prepare(sql::begin)).and_then([](statement_use use) { return use.run(); });
        !begun) {
        return failed(begun.error());
    }
    try {
        auto outcome = body();
        if (!outcome) {
            roll_back();
            return outcome;
        }
        auto committed =
            start(db, prepare(sql::commit)).and_then([](statement_use use) { return use.run(); });
        if (!committed) {
            roll_back();
            return failed(committed.error());
        }
        return outcome;
    } catch (...) {
        roll_back();
        throw;
    }
}

result<void> sqlite_store::put_connection(connection_record const& record)
{
    return guarded([&]() -> result<void> {
        auto use = start(db_.get(), prepare(sql::put_connection), record.connection_id, record.user.user_id,
                         record.user.name, record.connected_at_ms, record.expires_at_s, record.endpoint);
        if (!use) {
            return failed(use.error());
        }
        return use->run();
    });
}

result<std::optional<connection_record>> sqlite_store::get_connection(std::string_view connection_id,
                                                                      std::int64_t now_s)
{
    return guarded([&]() -> result<std::optional<connection_record>> {
        auto use = start(db_.get(), prepare(sql::get_connection), connection_id, now_s);
        if (!use) {
            return failed(use.error());
        }
        auto row = use->next();
        if (!row) {
            return failed(row.error());
        }
        if (!*row) {
            return std::optional<connection_record>{};
        }
        connection_record record;
        record.connection_id = use->text(0);
        record.user.user_id = use->text(1);
        record.user.name = use->text(2);
        record.connected_at_ms = use->integer(3);
        record.expires_at_s = use->integer(4);
        record.endpoint = use->text(5);
        return std::optional<connection_record>{std::move(record)};
    });
}

result<removal_result> sqlite_store::remove_connection(std::string_view connection_id)
{
    return guarded([&] {
        return in_transaction([&]() -> result<removal_result> {
            auto* const db = db_.get();
            removal_result removed;
            {
                auto found = start(db, prepare(sql::find_connection), connection_id);
                if (!found) {
                    return failed(found.error());
                }
                auto row = found->next();
                if (!row) {
                    return failed(row.error());
                }
                if (!*row) {
                    return removed; // unknown ids succeed: $disconnect is idempotent
                }
                connection_record record;
                record.connection_id = found->text(0);
                record.user.user_id = found->text(1);
                record.user.name = found->text(2);
                record.connected_at_ms = found->integer(3);
                record.expires_at_s = found->integer(4);
                record.endpoint = found->text(5);
                removed.connection = std::move(record);
            }
            // Rooms are computed before the subscriptions go.
            {
                auto rooms = start(db, prepare(sql::rooms_going_offline), connection_id,
                                   removed.connection->user.user_id);
                if (!rooms) {
                    return failed(rooms.error());
                }
                auto read = rooms->each_row(
                    [&](statement_use const& r) { removed.rooms_now_offline.push_back(r.text(0)); });
                if (!read) {
                    return failed(read.error());
                }
            }
            auto subscriptions = start(db, prepare(sql::delete_connection_subscriptions), connection_id)
                                     .and_then([](statement_use use) { return use.run(); });
            if (!subscriptions) {
                return failed(subscriptions.error());
            }
            auto deleted =
                start(db, prepare(sql::delete_connection), connection_id).and_then([](statement_use use) {
                    return use.run();
                });
            if (!deleted) {
                return failed(deleted.error());
            }
            return removed;
        });
    });
}

result<join_result> sqlite_store::join_room(std::string_view room, connection_record const& connection,
                                            std::int64_t now_ms)
{
    return guarded([&] {
        return in_transaction([&]() -> result<join_result> {
            auto* const db = db_.get();
            auto const now_s = now_ms / 1000;
            auto const& user = connection.user;
            join_result joined;

            auto created = start(db, prepare(sql::create_room), room, user.user_id, now_ms)
                               .and_then([](statement_use use) { return use.run(); });
            if (!created) {
                return failed(created.error());
            }
            joined.created = sqlite3_changes(db) > 0;

            auto member = start(db, prepare(sql::add_member), room, user.user_id, now_ms)
                              .and_then([](statement_use use) { return use.run(); });
            if (!member) {
                return failed(member.error());
            }
            {
                auto elsewhere = start(db, prepare(sql::user_online_elsewhere), room, user.user_id,
                                       connection.connection_id, now_s);
                if (!elsewhere) {
                    return failed(elsewhere.error());
                }
                auto row = elsewhere->next();
                if (!row) {
                    return failed(row.error());
                }
                joined.user_was_online = *row && elsewhere->integer(0) != 0;
            }
            auto subscribed =
                start(db, prepare(sql::subscribe), room, connection.connection_id, user.user_id, user.name)
                    .and_then([](statement_use use) { return use.run(); });
            if (!subscribed) {
                return failed(subscribed.error());
            }
            {
                auto head = start(db, prepare(sql::last_seq), room);
                if (!head) {
                    return failed(head.error());
                }
                auto row = head->next();
                if (!row) {
                    return failed(row.error());
                }
                joined.last_seq = *row ? head->integer(0) : 0;
            }
            auto online = start(db, prepare(sql::online_users), room, connection.connection_id, now_s);
            if (!online) {
                return failed(online.error());
            }
            auto read = online->each_row([&](statement_use const& r) {
                joined.online.push_back(identity{r.text(0), r.text(1)});
            });
            if (!read) {
                return failed(read.error());
            }
            return joined;
        });
    });
}

result<leave_result> sqlite_store::leave_room(std::string_view room, std::string_view user_id)
{
    return guarded([&] {
        return in_transaction([&]() -> result<leave_result> {
            auto* const db = db_.get();
            leave_result left;
            auto removed =
                start(db, prepare(sql::remove_member), room, user_id).and_then([](statement_use use) {
                    return use.run();
                });
            if (!removed) {
                return failed(removed.error());
            }
            left.was_member = sqlite3_changes(db) > 0;

            {
                auto subscriptions = start(db, prepare(sql::user_subscriptions), room, user_id);
                if (!subscriptions) {
                    return failed(subscriptions.error());
                }
                auto read = subscriptions->each_row([&](statement_use const& r) {
                    left.subscriptions.push_back(
                        subscriber{r.text(0), identity{r.text(1), r.text(2)}, r.text(3)});
                });
                if (!read) {
                    return failed(read.error());
                }
            }
            auto unsubscribed =
                start(db, prepare(sql::unsubscribe_user), room, user_id).and_then([](statement_use use) {
                    return use.run();
                });
            if (!unsubscribed) {
                return failed(unsubscribed.error());
            }
            left.user_was_online = !left.subscriptions.empty();
            return left;
        });
    });
}

result<bool> sqlite_store::is_member(std::string_view room, std::string_view user_id)
{
    return guarded([&]() -> result<bool> {
        auto use = start(db_.get(), prepare(sql::is_member), room, user_id);
        if (!use) {
            return failed(use.error());
        }
        return use->next();
    });
}

result<std::vector<subscriber>> sqlite_store::subscribers(std::string_view room, std::int64_t now_s)
{
    return guarded([&]() -> result<std::vector<subscriber>> {
        auto use = start(db_.get(), prepare(sql::subscribers), room, now_s);
        if (!use) {
            return failed(use.error());
        }
        std::vector<subscriber> list;
        auto read = use->each_row([&](statement_use const& r) {
            list.push_back(subscriber{r.text(0), identity{r.text(1), r.text(2)}, r.text(3)});
        });
        if (!read) {
            return failed(read.error());
        }
        return list;
    });
}

result<std::vector<room_summary>> sqlite_store::list_rooms(std::string_view user_id, std::int64_t now_s)
{
    return guarded([&]() -> result<std::vector<room_summary>> {
        auto use = start(db_.get(), prepare(sql::list_rooms), user_id, now_s);
        if (!use) {
            return failed(use.error());
        }
        std::vector<room_summary> list;
        auto read = use->each_row([&](statement_use const& r) {
            room_summary summary;
            summary.room = r.text(0);
            summary.last_seq = r.integer(1);
            summary.online = static_cast<int>(r.integer(2));
            summary.member = r.integer(3) != 0;
            summary.last_read_seq = r.integer(4);
            list.push_back(std::move(summary));
        });
        if (!read) {
            return failed(read.error());
        }
        return list;
    });
}

result<append_result> sqlite_store::append_message(new_message const& message)
{
    auto const now_s = message.ts_ms / 1000;
    return guarded([&]() -> result<append_result> {
        auto outcome = in_transaction([&]() -> result<append_result> {
            auto* const db = db_.get();
            auto const& from = message.from;
            // A live dedupe record: the original message, or a conflict.
            {
                auto dedupe = start(db, prepare(sql::find_dedupe), from.user_id, message.client_msg_id);
                if (!dedupe) {
                    return failed(dedupe.error());
                }
                auto row = dedupe->next();
                if (!row) {
                    return failed(row.error());
                }
                if (*row && dedupe->integer(2) > now_s) {
                    auto const room = dedupe->text(0);
                    auto const seq = dedupe->integer(1);
                    if (room != message.room) {
                        return fail(errc::conflict, "clientMsgId was already used in another room");
                    }
                    auto original = start(db, prepare(sql::get_message), room, seq);
                    if (!original) {
                        return failed(original.error());
                    }
                    auto found = original->next();
                    if (!found) {
                        return failed(found.error());
                    }
                    if (!*found) {
                        return fail(errc::internal, "sqlite: dedupe record points at a missing message");
                    }
                    return append_result{read_message(*original), true};
                }
            }
            // The next seq of the room. The chat core joins before it sends, so
            // the room normally exists and one statement does it; creating the
            // room here when it does not keeps append self-contained.
            auto advance = [&]() -> result<std::optional<std::int64_t>> {
                auto head = start(db, prepare(sql::advance_room), message.room);
                if (!head) {
                    return failed(head.error());
                }
                auto row = head->next();
                if (!row) {
                    return failed(row.error());
                }
                if (!*row) {
                    return std::optional<std::int64_t>{};
                }
                auto const seq = head->integer(0);
                // RETURNING must run to completion before the transaction commits.
                if (auto done = head->run(); !done) {
                    return failed(done.error());
                }
                return std::optional<std::int64_t>{seq};
            };
            auto seq = advance();
            if (seq && !*seq) {
                auto created = start(db, prepare(sql::create_room), message.room, from.user_id, message.ts_ms)
                                   .and_then([](statement_use use) { return use.run(); });
                if (!created) {
                    return failed(created.error());
                }
                seq = advance();
            }
            if (!seq) {
                return failed(seq.error());
            }
            if (!*seq) {
                return fail(errc::internal, "sqlite: room head vanished during append");
            }
            stored_message stored;
            stored.seq = **seq;
            stored.room = message.room;
            stored.id = message.id;
            stored.from = from;
            stored.text = message.text;
            stored.ts_ms = message.ts_ms;
            stored.client_msg_id = message.client_msg_id;

            auto inserted = start(db, prepare(sql::insert_message), stored.room, stored.seq, stored.id,
                                  from.user_id, from.name, stored.text, stored.ts_ms, stored.client_msg_id)
                                .and_then([](statement_use use) { return use.run(); });
            if (!inserted) {
                return failed(inserted.error());
            }
            auto recorded = start(db, prepare(sql::upsert_dedupe), from.user_id, message.client_msg_id,
                                  stored.room, stored.seq, message.dedupe_expires_at_s)
                                .and_then([](statement_use use) { return use.run(); });
            if (!recorded) {
                return failed(recorded.error());
            }
            return append_result{std::move(stored), false};
        });
        // Keep the dedupe table bounded, outside the append's transaction.
        if (outcome && !outcome->duplicate && ++appends_since_purge_ >= purge_interval) {
            appends_since_purge_ = 0;
            purge_expired_dedupe(now_s);
        }
        return outcome;
    });
}

void sqlite_store::purge_expired_dedupe(std::int64_t now_s) noexcept
{
    try {
        // A failure only delays the purge to the next interval.
        static_cast<void>(
            start(db_.get(), prepare(sql::purge_dedupe), now_s, purge_batch).and_then([](statement_use use) {
                return use.run();
            }));
    } catch (std::exception const&) {
        // Same: best effort.
    }
}

result<history_page> sqlite_store::history(history_query const& query)
{
    return guarded([&]() -> result<history_page> {
        auto const limit = static_cast<std::int64_t>(std::max(query.limit, 0));
        // One row more than asked tells whether there is more.
        auto use = query.after
                       ? start(db_.get(), prepare(sql::history_after), query.room, *query.after, limit + 1)
                       : start(db_.get(), prepare(sql::history_before), query.room,
                               query.before.value_or(std::numeric_limits<std::int64_t>::max()), limit + 1);
        if (!use) {
            return failed(use.error());
        }
        history_page page;
        auto read = use->each_row([&](statement_use const& r) {
            if (static_cast<std::int64_t>(page.messages.size()) == limit) {
                page.has_more = true; // the extra row asked for exists
                return false;
            }
            page.messages.push_back(read_message(r));
            return true;
        });
        if (!read) {
            return failed(read.error());
        }
        if (!query.after) {
            std::reverse(page.messages.begin(), page.messages.end());
        }
        return page;
    });
}

result<std::int64_t> sqlite_store::mark_read(std::string_view room, std::string_view user_id,
                                             std::int64_t seq)
{
    return guarded([&]() -> result<std::int64_t> {
        auto use = start(db_.get(), prepare(sql::mark_read), room, user_id, seq);
        if (!use) {
            return failed(use.error());
        }
        auto row = use->next();
        if (!row) {
            return failed(row.error());
        }
        if (!*row) {
            return fail(errc::not_member, "not a member of room '" + std::string(room) + "'");
        }
        auto const position = use->integer(0);
        if (auto done = use->run(); !done) {
            return failed(done.error());
        }
        return position;
    });
}

result<std::int64_t> sqlite_store::last_seq(std::string_view room)
{
    return guarded([&]() -> result<std::int64_t> {
        auto use = start(db_.get(), prepare(sql::last_seq), room);
        if (!use) {
            return failed(use.error());
        }
        auto row = use->next();
        if (!row) {
            return failed(row.error());
        }
        if (!*row) {
            return fail(errc::not_found, "no room '" + std::string(room) + "'");
        }
        return use->integer(0);
    });
}

result<void> sqlite_store::purge_connections()
{
    return guarded([&] {
        return in_transaction([&]() -> result<void> {
            auto* const db = db_.get();
            return start(db, prepare(sql::delete_all_subscriptions))
                .and_then([](statement_use use) { return use.run(); })
                .and_then([&] { return start(db, prepare(sql::delete_all_connections)); })
                .and_then([](statement_use use) { return use.run(); });
        });
    });
}

result<std::string> sqlite_store::integrity_check()
{
    return guarded([&]() -> result<std::string> {
        auto use = start(db_.get(), prepare("PRAGMA integrity_check"));
        if (!use) {
            return failed(use.error());
        }
        std::string report;
        auto read = use->each_row([&](statement_use const& r) {
            if (!report.empty()) {
                report += '\n';
            }
            report += r.text(0);
        });
        if (!read) {
            return failed(read.error());
        }
        return report;
    });
}

} // namespace stratus
