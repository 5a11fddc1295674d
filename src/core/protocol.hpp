#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.hpp"
#include "core/result.hpp"

namespace stratus {

/// The client actions of protocol v1 (docs/protocol.md).
enum class action {
    join_room,
    leave_room,
    send_message,
    get_history,
    typing,
    list_rooms,
    mark_read,
    ping,
};

/// The route keys, in the order the $default error lists them.
[[nodiscard]] std::span<std::string_view const> action_names() noexcept;

/// Maps a route key ("sendMessage") to its action; unknown -> nullopt.
[[nodiscard]] std::optional<action> action_from_name(std::string_view name) noexcept;

/// A validated client request. Only the fields of its action are meaningful.
struct client_request {
    stratus::action kind = action::ping;
    std::string room;
    std::string text;
    std::string client_msg_id;
    std::optional<std::int64_t> after;
    std::optional<std::int64_t> before;
    int limit = 50;
    std::int64_t seq = 0;
};

/// Parses and validates the body of a frame routed to `kind`. Every field is
/// checked for presence, type and limits; the first problem is returned as
/// errc::invalid_request or errc::too_large with a message for the client.
[[nodiscard]] result<client_request> parse_client_request(action kind, std::string_view body);

/// The "action" member of a frame if it is a string (for error frames), else "".
[[nodiscard]] std::string peek_action(std::string_view body);

/// Protocol error code for an error category ("invalid_request", "rate_limited", ...).
[[nodiscard]] std::string_view protocol_code(errc code) noexcept;

// Frame builders. Each returns one complete JSON text frame.
[[nodiscard]] std::string joined_frame(std::string_view room, join_result const& joined);
[[nodiscard]] std::string left_frame(std::string_view room);
[[nodiscard]] std::string ack_frame(stored_message const& message);
[[nodiscard]] std::string message_frame(stored_message const& message);
[[nodiscard]] std::string history_frame(std::string_view room, history_page const& page);
[[nodiscard]] std::string rooms_frame(std::span<room_summary const> rooms);
[[nodiscard]] std::string read_frame(std::string_view room, std::int64_t seq);
[[nodiscard]] std::string pong_frame();
[[nodiscard]] std::string presence_frame(std::string_view room, identity const& user, std::string_view state);
[[nodiscard]] std::string typing_frame(std::string_view room, identity const& user);
/// What an error frame echoes of the request it answers, so that a client with
/// several requests in flight can tell which one failed.
struct error_echo {
    std::string action;
    std::string room;
    std::string client_msg_id;
};

/// The action, room and clientMsgId of a frame when they are short valid strings
/// (anything else is left empty: an error never echoes hostile input back).
[[nodiscard]] error_echo peek_echo(std::string_view body);

/// {"type":"error","code","message","action","requestId"}, plus "room" and
/// "clientMsgId" when the echo has them; when `valid_actions` is set, also
/// "validActions" (the $default route's answer).
[[nodiscard]] std::string error_frame(errc code, std::string_view message, error_echo const& echo,
                                      std::string_view request_id, bool valid_actions = false);

} // namespace stratus
