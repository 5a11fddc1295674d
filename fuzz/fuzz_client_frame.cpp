// Client frames: the body of a WebSocket text frame as it reaches the chat
// core. The path is the production one: the gateway's route selection
// ($request.body.action on the built-in route table) picks the route,
// action_from_name maps it, parse_client_request validates the fields, and an
// error answer echoes peek_echo. Oracles:
// - an accepted request satisfies every validator and re-parses identically
//   from the frame a client would send for it;
// - peek_echo / peek_action only ever return short valid UTF-8;
// - every frame builder produces JSON that parses back to the same values.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "core/protocol.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"
#include "gateway/route_table.hpp"

namespace {

using json = nlohmann::json;
using stratus::action;
using stratus::fuzz::expect;

bool short_valid(std::string const& text)
{
    return text.size() <= 64 && stratus::is_valid_utf8(text);
}

// The frame a client would send for `request`.
std::string frame_for(stratus::client_request const& request)
{
    json doc{{"action", stratus::action_names()[static_cast<std::size_t>(request.kind)]}};
    switch (request.kind) {
    case action::ping:
    case action::list_rooms:
        break;
    case action::join_room:
    case action::leave_room:
    case action::typing:
        doc["room"] = request.room;
        break;
    case action::send_message:
        doc["room"] = request.room;
        doc["text"] = request.text;
        doc["clientMsgId"] = request.client_msg_id;
        break;
    case action::get_history:
        doc["room"] = request.room;
        doc["limit"] = request.limit;
        if (request.after) {
            doc["after"] = *request.after;
        }
        if (request.before) {
            doc["before"] = *request.before;
        }
        break;
    case action::mark_read:
        doc["room"] = request.room;
        doc["seq"] = request.seq;
        break;
    }
    return doc.dump();
}

void check_request(action kind, std::string_view body)
{
    auto const request = stratus::parse_client_request(kind, body);
    if (!request) {
        auto const code = request.error().code;
        expect(code == stratus::errc::invalid_request || code == stratus::errc::too_large,
               "a refused frame is invalid_request or too_large");
        expect(!request.error().detail.empty(), "a refusal says why");
        return;
    }
    auto const& r = *request;
    expect(r.kind == kind, "the request has the routed action");
    bool const has_room = kind != action::ping && kind != action::list_rooms;
    expect(!has_room || stratus::validate_room(r.room).has_value(), "an accepted room is valid");
    if (kind == action::send_message) {
        expect(stratus::validate_text(r.text).has_value(), "accepted text is valid");
        expect(stratus::validate_client_msg_id(r.client_msg_id).has_value(), "accepted clientMsgId is valid");
    }
    if (kind == action::get_history) {
        expect(r.limit >= 1 && r.limit <= stratus::limits::history_max_limit, "limit in 1-100");
        expect(!(r.after && r.before), "not both after and before");
        expect((!r.after || *r.after >= 0) && (!r.before || *r.before >= 0), "cursors are not negative");
    }
    if (kind == action::mark_read) {
        expect(r.seq >= 0, "seq is not negative");
    }

    auto const again = stratus::parse_client_request(kind, frame_for(r));
    expect(again.has_value(), "the frame for an accepted request is accepted");
    expect(again->room == r.room && again->text == r.text && again->client_msg_id == r.client_msg_id &&
               again->after == r.after && again->before == r.before && again->seq == r.seq &&
               (kind != action::get_history || again->limit == r.limit),
           "request -> frame -> request is exact");

    // What the core sends back for it parses to the same values.
    if (kind == action::send_message) {
        stratus::stored_message message{r.room, 7, "m-1", {"u-1", "Fuzz"}, r.text, 1, r.client_msg_id};
        auto const frame = json::parse(stratus::message_frame(message), nullptr, false);
        expect(frame.is_object() && frame["text"] == r.text && frame["room"] == r.room &&
                   frame["clientMsgId"] == r.client_msg_id,
               "message_frame carries the text, room and clientMsgId");
        auto const ack = json::parse(stratus::ack_frame(message), nullptr, false);
        expect(ack.is_object() && ack["clientMsgId"] == r.client_msg_id, "ack_frame carries the clientMsgId");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    static auto const routes = stratus::gateway::route_table::stratus_default();
    auto const body = stratus::fuzz::as_text(data, size);

    auto const route = routes.select(body);
    expect(route.has_value(), "the built-in table always has a route ($default)");
    auto const kind = stratus::action_from_name(route->key);
    expect(kind.has_value() || route->key == "$default", "a selected route is an action or $default");
    if (kind) {
        expect(stratus::action_names()[static_cast<std::size_t>(*kind)] == route->key,
               "action names round trip");
        check_request(*kind, body);
    }
    // Every validator, whatever the action member says.
    check_request(static_cast<action>(size % stratus::action_names().size()), body);

    auto const echo = stratus::peek_echo(body);
    expect(short_valid(echo.action) && short_valid(echo.room) && short_valid(echo.client_msg_id),
           "peek_echo returns short valid UTF-8 only");
    expect(stratus::peek_action(body) == echo.action, "peek_action agrees with peek_echo");

    auto const error = json::parse(
        stratus::error_frame(stratus::errc::invalid_request, "fuzz", echo, "r-1", !kind.has_value()), nullptr,
        false);
    expect(error.is_object() && error["type"] == "error" && error["action"] == echo.action,
           "error_frame is JSON and echoes the action");
    expect(echo.room.empty() || error["room"] == echo.room, "error_frame echoes the room");
    expect(echo.client_msg_id.empty() || error["clientMsgId"] == echo.client_msg_id,
           "error_frame echoes the clientMsgId");
    return 0;
}
