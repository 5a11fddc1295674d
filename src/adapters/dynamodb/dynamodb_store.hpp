#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "adapters/dynamodb/dynamodb_client.hpp"
#include "adapters/dynamodb/dynamodb_tables.hpp"
#include "core/ports/store.hpp"

namespace stratus {

/// Settings of the DynamoDB store.
struct dynamodb_store_options {
    /// Table name prefix: "<prefix>Connections", "<prefix>Messages".
    std::string table_prefix;
    /// One append gives up with errc::unavailable after this many tries of its
    /// transaction, or once append_timeout has passed, whichever comes first.
    /// Losing repeatedly is normal while others make progress: with zero think
    /// time, the writer that just won sends its next transaction before the losers
    /// retry, so a loser may wait for every other writer's burst (a convoy).
    int max_append_attempts = 1000;
    std::chrono::milliseconds append_timeout{20000};
    /// Backoff between tries (full jitter, like the client's).
    std::chrono::milliseconds conflict_backoff_base{2};
    std::chrono::milliseconds conflict_backoff_cap{50};
    /// Exact table names (a deployment's); each overrides the prefix rule when set.
    std::string connections_table;
    std::string messages_table;
};

/// The store port on DynamoDB (docs/dynamodb.md). Two tables, both keyed by
/// strings pk (hash) and sk (range); `ttl` is epoch seconds (TTL attribute).
///
///   <prefix>Connections
///     CONN#<id>   META         connectionId, userId, name, connectedAt (ms), endpoint, ttl
///     CONN#<id>   ROOM#<room>  room, ttl            (the connection's rooms: cleanup)
///     ROOM#<room> CONN#<id>    connectionId, userId, name, endpoint, ttl
///                              (one Query on ROOM#<room> = the fan-out list)
///   <prefix>Messages
///     ROOM#<room> HEAD         room, lastSeq, createdBy, createdAt (ms)
///     ROOM#<room> MEMBER#<u>   room, userId, joinedAt (ms), lastReadSeq
///     ROOM#<room> MSG#<seq>    room, seq, id, userId, name, text, ts (ms), clientMsgId
///                              (seq zero-padded to 20 digits: byte order = numeric order)
///     ROOMS       ROOM#<room>  room, createdAt: the room index, written in the same
///                              transaction that creates HEAD (listRooms without a Scan)
///     DEDUP#<u>#<clientMsgId> DEDUP   userId, clientMsgId, room, seq, ttl
///                              (unambiguous: clientMsgId has no '#')
///
/// No Scan anywhere and no GSI: every access is a GetItem, a Query on one
/// partition, a BatchGetItem or a write by key. Reads use ConsistentRead.
///
/// Append: one TransactWriteItems advances HEAD on the condition
/// `lastSeq = :expected` (or creates it: attribute_not_exists), puts the
/// message (attribute_not_exists) and puts the dedupe item (attribute_not_exists
/// or expired: `ttl <= :now`). A cancelled head condition -> retry with the
/// head's current value (bounded, jittered); a cancelled dedupe condition ->
/// the original message as a duplicate, or errc::conflict for another room.
/// The expected head comes from a per-store cache, so the hot path is one
/// transaction when this process is the room's only writer. Appends to one room
/// from threads of one process take turns (striped lock): inside a process they
/// could only collide on the head; conflicts remain between processes (Lambda
/// instances), and those are what the retry handles.
///
/// Expired items are filtered on read (TTL deletion lags up to 48 h). The copies
/// of a connection's identity, endpoint and ttl on its ROOM#/CONN# items are
/// refreshed when put_connection replaces an existing record.
///
/// Errors: throttling past the client's retries -> errc::throttled; 5xx and
/// transport failures -> errc::unavailable; anything unexpected -> errc::internal.
/// Thread-safe; the client must outlive the store.
class dynamodb_store final : public store {
public:
    dynamodb_store(dynamodb::dynamodb_client& client, dynamodb_store_options options);

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

    /// Capacity consumed by this store's client so far (RRU/WRU for benchmarks).
    [[nodiscard]] dynamodb::capacity_totals capacity_totals() const;

    /// Append transactions cancelled because another writer advanced the room
    /// head first (or a TransactionConflict), each followed by a retry.
    [[nodiscard]] std::uint64_t append_conflicts() const noexcept;

    [[nodiscard]] dynamodb::table_names const& tables() const noexcept { return tables_; }

private:
    /// What this store last saw of a room's head.
    struct head_state {
        bool exists = false;
        std::int64_t last_seq = 0;
    };

    result<std::optional<head_state>> read_head(std::string_view room);
    result<head_state> ensure_room(std::string_view room, std::string_view user_id, std::int64_t now_ms,
                                   bool& created);
    result<std::vector<nlohmann::json>> room_subscriptions(std::string_view room);
    result<void> write_batch(std::string const& table, std::vector<nlohmann::json> requests);
    result<std::optional<stored_message>> get_message(std::string_view room, std::int64_t seq);
    result<append_result> duplicate_of(nlohmann::json const& dedupe_item, new_message const& message);
    result<void> refresh_subscriptions(connection_record const& record);

    std::optional<head_state> cached_head(std::string const& room);
    void remember_head(std::string const& room, head_state head);
    void forget_head(std::string const& room);

    dynamodb::dynamodb_client& client_;
    dynamodb_store_options options_;
    dynamodb::table_names tables_;
    std::atomic<std::uint64_t> append_conflicts_{0};

    // Appends to rooms hashing to one stripe take turns within this process.
    static constexpr std::size_t append_stripe_count = 64;
    std::array<std::mutex, append_stripe_count> append_stripes_;

    // This mutex synchronizes heads_ (a hint only: conditions keep seq correct).
    std::mutex heads_mutex_;
    std::unordered_map<std::string, head_state> heads_;
};

} // namespace stratus
