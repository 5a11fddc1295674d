#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "adapters/sqlite/sqlite_options.hpp"
#include "core/ports/store.hpp"

// The SQLite handles stay opaque here: only sqlite_store.cpp includes <sqlite3.h>.
struct sqlite3;
struct sqlite3_stmt;

namespace stratus {

/// The store port on SQLite: the embedded default (one file, WAL mode).
///
/// Durability: the database runs in WAL mode. With synchronous=NORMAL (the
/// default) every committed transaction survives a process crash (kill -9);
/// a power loss or OS crash may lose the last transactions but never corrupts
/// the file. With sqlite_options::synchronous_full (synchronous=FULL) a
/// committed transaction also survives power loss. A port method returns
/// success only after its transaction committed.
///
/// Concurrency: one sqlite3 connection, opened SQLITE_OPEN_NOMUTEX, and one
/// std::mutex held for the whole of every method. SQLite's own FULLMUTEX would
/// serialize single API calls but not multi-statement transactions on a shared
/// connection. Writes run in BEGIN IMMEDIATE transactions, so several
/// processes (or several sqlite_store objects) on one file also stay correct:
/// they wait up to busy_timeout_ms for each other, then fail with
/// errc::unavailable. Seq is gap-free because the room head is advanced in
/// the same transaction that inserts the message.
///
/// Schema: versioned with PRAGMA user_version; each migration step runs in its
/// own transaction. A file written by a newer build fails to open.
///
/// Errors: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL and SQLITE_IOERR* become
/// errc::unavailable; any other failure becomes errc::internal. The detail
/// carries sqlite3_errmsg. No method throws.
class sqlite_store final : public store {
public:
    /// The schema version this build creates and understands.
    static constexpr int schema_version = 2;

    /// Opens (creating if needed) the database at `file` (":memory:" for a
    /// private in-memory database), applies the PRAGMAs and migrates the schema.
    /// Errors: unavailable (locked, disk full, I/O), internal (cannot open,
    /// not a database, schema newer than this build, failed migration).
    [[nodiscard]] static result<std::unique_ptr<sqlite_store>> open(std::filesystem::path const& file,
                                                                    sqlite_options const& options);

    ~sqlite_store() override;
    sqlite_store(sqlite_store const&) = delete;
    sqlite_store& operator=(sqlite_store const&) = delete;

    // store
    result<void> put_connection(connection_record const& record) override;
    result<std::optional<connection_record>> get_connection(std::string_view connection_id,
                                                            std::int64_t now_s) override;
    result<removal_result> remove_connection(std::string_view connection_id) override;
    result<join_result> join_room(std::string_view room, connection_record const& connection,
                                  std::int64_t now_ms) override;
    result<leave_result> leave_room(std::string_view room, std::string_view user_id) override;
    result<bool> is_member(std::string_view room, std::string_view user_id) override;
    result<std::vector<subscriber>> subscribers(std::string_view room, std::int64_t now_s) override;
    result<std::vector<room_summary>> list_rooms(std::string_view user_id, std::int64_t now_s) override;
    result<append_result> append_message(new_message const& message) override;
    result<history_page> history(history_query const& query) override;
    result<std::int64_t> mark_read(std::string_view room, std::string_view user_id,
                                   std::int64_t seq) override;
    result<std::int64_t> last_seq(std::string_view room) override;

    /// Deletes every connection and every subscription; memberships and
    /// messages stay. The gateway calls it at start-up because no socket
    /// survives a restart. Errors: unavailable, internal.
    [[nodiscard]] result<void> purge_connections();

    /// The result of PRAGMA integrity_check: "ok" for a sound database,
    /// otherwise the problems found, one per line. Errors: unavailable, internal.
    [[nodiscard]] result<std::string> integrity_check();

private:
    struct database_closer {
        void operator()(sqlite3* db) const noexcept;
    };
    struct statement_finalizer {
        void operator()(sqlite3_stmt* statement) const noexcept;
    };
    using database_ptr = std::unique_ptr<sqlite3, database_closer>;
    using statement_ptr = std::unique_ptr<sqlite3_stmt, statement_finalizer>;

    explicit sqlite_store(database_ptr db);

    /// The cached prepared statement for `sql`, which must have static storage
    /// duration (it is the cache key).
    result<sqlite3_stmt*> prepare(std::string_view sql);

    /// Runs `body` under mutex_, turning any exception into errc::internal.
    template <class Body>
    auto guarded(Body&& body) -> decltype(body());

    /// Runs `body` in a BEGIN IMMEDIATE transaction: commits when it succeeds,
    /// rolls back when it fails or throws.
    template <class Body>
    auto in_transaction(Body&& body) -> decltype(body());

    /// Best effort: deletes a bounded batch of expired dedupe records.
    void purge_expired_dedupe(std::int64_t now_s) noexcept;

    // This mutex synchronizes all access to the members below, and with them
    // all use of the connection.
    std::mutex mutex_;
    database_ptr db_;
    // Declared after db_ so that statements are finalized before the close.
    std::unordered_map<std::string_view, statement_ptr> statements_;
    int appends_since_purge_ = 0;
};

} // namespace stratus
