#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace stratus {

/// Who a connection belongs to. Comes only from a verified token at $connect.
struct identity {
    std::string user_id;
    std::string name;

    friend bool operator==(identity const&, identity const&) = default;
};

/// A live WebSocket connection as the store keeps it.
struct connection_record {
    std::string connection_id;
    identity user;
    std::int64_t connected_at_ms = 0;
    /// Epoch seconds after which the record is treated as absent (TTL).
    std::int64_t expires_at_s = 0;
    /// The @connections endpoint of the gateway that holds the socket
    /// ("https://{domainName}/{stage}"); "" when unknown.
    std::string endpoint;
};

/// One entry of a room's fan-out list: a connection subscribed to the room.
struct subscriber {
    std::string connection_id;
    identity user;
    /// Copied from the connection record: where to push.
    std::string endpoint;
};

/// A message as stored and delivered.
struct stored_message {
    std::string room;
    std::int64_t seq = 0;
    std::string id;
    identity from;
    std::string text;
    std::int64_t ts_ms = 0;
    std::string client_msg_id;
};

/// What sendMessage asks the store to append; seq is assigned by the store.
struct new_message {
    std::string room;
    identity from;
    std::string text;
    std::string client_msg_id;
    std::string id;
    std::int64_t ts_ms = 0;
    /// Dedupe records older than this (epoch seconds) no longer match.
    std::int64_t dedupe_expires_at_s = 0;
};

/// Outcome of an append: the stored message, and whether it already existed
/// (a retried clientMsgId) so that it must not be broadcast again.
struct append_result {
    stored_message message;
    bool duplicate = false;
};

/// Parameters of a history read. At most one of after/before is set.
struct history_query {
    std::string room;
    std::optional<std::int64_t> after;
    std::optional<std::int64_t> before;
    int limit = 50;
};

/// One page of history, ascending by seq.
struct history_page {
    std::vector<stored_message> messages;
    bool has_more = false;
};

/// A room as listRooms shows it to one user.
struct room_summary {
    std::string room;
    std::int64_t last_seq = 0;
    /// Distinct users with a live subscription.
    int online = 0;
    bool member = false;
    std::int64_t last_read_seq = 0;
};

/// Outcome of joining a room with one connection.
struct join_result {
    std::int64_t last_seq = 0;
    bool created = false;
    /// True when another connection of the same user was already subscribed,
    /// so others have already seen this user online.
    bool user_was_online = false;
    /// Distinct users online in the room after the join (including the joiner).
    std::vector<identity> online;
};

/// Outcome of leaving a room: the user's connections that were subscribed.
struct leave_result {
    bool was_member = false;
    std::vector<subscriber> subscriptions;
    /// True when the user had a live subscription, so others saw them online.
    bool user_was_online = false;
};

/// Outcome of removing a connection.
struct removal_result {
    /// The removed record, if it existed.
    std::optional<connection_record> connection;
    /// Rooms where the connection's user no longer has any live subscription.
    std::vector<std::string> rooms_now_offline;
};

} // namespace stratus
