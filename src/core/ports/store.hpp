#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"

namespace stratus {

/// Outbound port: everything the chat core persists. Implementations:
/// memory_store (tests), sqlite_store (embedded default), dynamodb_store (AWS).
///
/// Every method is safe to call from several threads at once. Every method can
/// fail with errc::unavailable (store down, busy, throttled past retries) or
/// errc::internal (unexpected store response); a failed write changes nothing.
class store {
public:
    virtual ~store() = default;

    /// Registers a live connection. Replaces a record with the same id.
    [[nodiscard]] virtual result<void> put_connection(connection_record const& record) = 0;

    /// Looks a connection up; absent or expired (expires_at_s <= now_s) -> nullopt.
    [[nodiscard]] virtual result<std::optional<connection_record>>
    get_connection(std::string_view connection_id, std::int64_t now_s) = 0;

    /// Deletes a connection and all its room subscriptions. Unknown ids succeed
    /// with an empty result ($disconnect and 410 cleanup are idempotent).
    [[nodiscard]] virtual result<removal_result> remove_connection(std::string_view connection_id) = 0;

    /// Creates the room if absent, makes the user a member and subscribes the
    /// connection (idempotent).
    [[nodiscard]] virtual result<join_result>
    join_room(std::string_view room, connection_record const& connection, std::int64_t now_ms) = 0;

    /// Ends the user's membership and removes every subscription of the user's
    /// connections in the room. Leaving a room one is not in succeeds with
    /// was_member = false.
    [[nodiscard]] virtual result<leave_result> leave_room(std::string_view room,
                                                          std::string_view user_id) = 0;

    /// Whether the user is a member of the room (unknown room -> false).
    [[nodiscard]] virtual result<bool> is_member(std::string_view room, std::string_view user_id) = 0;

    /// The fan-out list: connections subscribed to the room whose records have
    /// not expired. One lookup on the room; never a scan of all connections.
    [[nodiscard]] virtual result<std::vector<subscriber>> subscribers(std::string_view room,
                                                                      std::int64_t now_s) = 0;

    /// Every room, by name, with the caller's membership and read position.
    [[nodiscard]] virtual result<std::vector<room_summary>> list_rooms(std::string_view user_id,
                                                                       std::int64_t now_s) = 0;

    /// Appends a message with the next seq of its room (1, 2, 3, ... without
    /// gaps) and records (from.user_id, client_msg_id) for deduplication, all
    /// in one atomic step. A retry with a known (user, clientMsgId) returns the
    /// original message with duplicate = true and writes nothing. A known
    /// clientMsgId used for another room fails with errc::conflict.
    [[nodiscard]] virtual result<append_result> append_message(new_message const& message) = 0;

    /// A page of history, ascending by seq. after: seq > after, oldest first;
    /// before: seq < before, the newest `limit` of them; neither: the newest.
    [[nodiscard]] virtual result<history_page> history(history_query const& query) = 0;

    /// Raises the user's read position in the room (never lowers it).
    /// Not a member -> errc::not_member.
    [[nodiscard]] virtual result<std::int64_t> mark_read(std::string_view room, std::string_view user_id,
                                                         std::int64_t seq) = 0;

    /// The room's last seq; unknown room -> errc::not_found.
    [[nodiscard]] virtual result<std::int64_t> last_seq(std::string_view room) = 0;
};

} // namespace stratus
