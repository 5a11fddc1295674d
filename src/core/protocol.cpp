#include "core/protocol.hpp"

#include <array>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/validation.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 8> names = {
    "joinRoom", "leaveRoom", "sendMessage", "getHistory", "typing", "listRooms", "markRead", "ping",
};

std::string dump(json const& doc)
{
    // Inputs are validated UTF-8; "replace" keeps a bug from ever throwing here.
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

json user_json(identity const& user)
{
    return json{{"userId", user.user_id}, {"name", user.name}};
}

json message_json(stored_message const& m)
{
    return json{
        {"type", "message"},         {"room", m.room}, {"seq", m.seq},  {"id", m.id},
        {"from", user_json(m.from)}, {"text", m.text}, {"ts", m.ts_ms}, {"clientMsgId", m.client_msg_id}};
}

// Reads a required string field.
result<std::string> required_string(json const& doc, char const* key)
{
    auto const it = doc.find(key);
    if (it == doc.end()) {
        return fail(errc::invalid_request, std::string("missing field '") + key + "'");
    }
    if (!it->is_string()) {
        return fail(errc::invalid_request, std::string("field '") + key + "' must be a string");
    }
    return it->get<std::string>();
}

// Reads an optional non-negative integer field (JSON integers only: 1.5 and "1" are rejected).
result<std::optional<std::int64_t>> optional_count(json const& doc, char const* key)
{
    auto const it = doc.find(key);
    if (it == doc.end() || it->is_null()) {
        return std::optional<std::int64_t>{};
    }
    if (it->is_number_unsigned()) {
        auto const v = it->get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / 2)) {
            return fail(errc::invalid_request, std::string("field '") + key + "' is out of range");
        }
        return std::optional<std::int64_t>{static_cast<std::int64_t>(v)};
    }
    if (it->is_number_integer()) {
        return fail(errc::invalid_request, std::string("field '") + key + "' must not be negative");
    }
    return fail(errc::invalid_request, std::string("field '") + key + "' must be an integer");
}

result<std::string> room_field(json const& doc)
{
    auto room = required_string(doc, "room");
    if (!room) {
        return room;
    }
    if (auto valid = validate_room(*room); !valid) {
        return tl::unexpected(valid.error());
    }
    return room;
}

} // namespace

std::span<std::string_view const> action_names() noexcept
{
    return names;
}

std::optional<action> action_from_name(std::string_view name) noexcept
{
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) {
            return static_cast<action>(i);
        }
    }
    return std::nullopt;
}

result<client_request> parse_client_request(action kind, std::string_view body)
{
    if (unsafe_json_text(body, limits::json_max_depth)) {
        return fail(errc::invalid_request, "frame is not valid JSON (NUL byte or nested deeper than 32)");
    }
    json const doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        return fail(errc::invalid_request, "frame is not valid JSON");
    }
    if (!doc.is_object()) {
        return fail(errc::invalid_request, "frame must be a JSON object");
    }

    client_request request;
    request.kind = kind;
    switch (kind) {
    case action::ping:
    case action::list_rooms:
        return request;
    case action::join_room:
    case action::leave_room:
    case action::typing: {
        auto room = room_field(doc);
        if (!room) {
            return tl::unexpected(room.error());
        }
        request.room = std::move(*room);
        return request;
    }
    case action::send_message: {
        auto room = room_field(doc);
        if (!room) {
            return tl::unexpected(room.error());
        }
        auto text = required_string(doc, "text");
        if (!text) {
            return tl::unexpected(text.error());
        }
        if (auto valid = validate_text(*text); !valid) {
            return tl::unexpected(valid.error());
        }
        auto id = required_string(doc, "clientMsgId");
        if (!id) {
            return tl::unexpected(id.error());
        }
        if (auto valid = validate_client_msg_id(*id); !valid) {
            return tl::unexpected(valid.error());
        }
        request.room = std::move(*room);
        request.text = std::move(*text);
        request.client_msg_id = std::move(*id);
        return request;
    }
    case action::get_history: {
        auto room = room_field(doc);
        if (!room) {
            return tl::unexpected(room.error());
        }
        auto after = optional_count(doc, "after");
        if (!after) {
            return tl::unexpected(after.error());
        }
        auto before = optional_count(doc, "before");
        if (!before) {
            return tl::unexpected(before.error());
        }
        if (*after && *before) {
            return fail(errc::invalid_request, "give 'after' or 'before', not both");
        }
        auto limit = optional_count(doc, "limit");
        if (!limit) {
            return tl::unexpected(limit.error());
        }
        if (*limit && (**limit < 1 || **limit > limits::history_max_limit)) {
            return fail(errc::invalid_request, "field 'limit' must be 1-100");
        }
        request.room = std::move(*room);
        request.after = *after;
        request.before = *before;
        request.limit = *limit ? static_cast<int>(**limit) : limits::history_default_limit;
        return request;
    }
    case action::mark_read: {
        auto room = room_field(doc);
        if (!room) {
            return tl::unexpected(room.error());
        }
        auto seq = optional_count(doc, "seq");
        if (!seq) {
            return tl::unexpected(seq.error());
        }
        if (!*seq) {
            return fail(errc::invalid_request, "missing field 'seq'");
        }
        request.room = std::move(*room);
        request.seq = **seq;
        return request;
    }
    }
    return fail(errc::invalid_request, "unknown action");
}

namespace {

// A member of a JSON object frame as a short valid string, else "".
std::string short_string_member(nlohmann::json const& doc, char const* key)
{
    auto const it = doc.find(key);
    if (it == doc.end() || !it->is_string()) {
        return {};
    }
    auto value = it->get<std::string>();
    return value.size() <= 64 && is_valid_utf8(value) ? value : std::string{};
}

nlohmann::json parse_object(std::string_view body)
{
    if (unsafe_json_text(body, limits::json_max_depth)) {
        return nullptr;
    }
    auto doc = nlohmann::json::parse(body, nullptr, false);
    return doc.is_object() ? doc : nlohmann::json(nullptr);
}

} // namespace

std::string peek_action(std::string_view body)
{
    auto const doc = parse_object(body);
    return doc.is_object() ? short_string_member(doc, "action") : std::string{};
}

error_echo peek_echo(std::string_view body)
{
    error_echo echo;
    auto const doc = parse_object(body);
    if (doc.is_object()) {
        echo.action = short_string_member(doc, "action");
        echo.room = short_string_member(doc, "room");
        echo.client_msg_id = short_string_member(doc, "clientMsgId");
    }
    return echo;
}

std::string_view protocol_code(errc code) noexcept
{
    switch (code) {
    case errc::invalid_request:
    case errc::conflict:
        return "invalid_request";
    case errc::unauthorized:
        return "unauthorized";
    case errc::not_found:
        return "not_found";
    case errc::not_member:
        return "not_member";
    case errc::too_large:
        return "too_large";
    case errc::throttled:
        return "rate_limited";
    case errc::gone:
    case errc::unavailable:
    case errc::internal:
        return "internal";
    }
    return "internal";
}

std::string joined_frame(std::string_view room, join_result const& joined)
{
    json members = json::array();
    for (auto const& user : joined.online) {
        members.push_back(user_json(user));
    }
    return dump(json{{"type", "joined"}, {"room", room}, {"lastSeq", joined.last_seq}, {"members", members}});
}

std::string left_frame(std::string_view room)
{
    return dump(json{{"type", "left"}, {"room", room}});
}

std::string ack_frame(stored_message const& m)
{
    return dump(json{{"type", "ack"},
                     {"room", m.room},
                     {"clientMsgId", m.client_msg_id},
                     {"seq", m.seq},
                     {"id", m.id},
                     {"ts", m.ts_ms}});
}

std::string message_frame(stored_message const& message)
{
    return dump(message_json(message));
}

std::string history_frame(std::string_view room, history_page const& page)
{
    json messages = json::array();
    for (auto const& m : page.messages) {
        messages.push_back(message_json(m));
    }
    return dump(
        json{{"type", "history"}, {"room", room}, {"messages", messages}, {"hasMore", page.has_more}});
}

std::string rooms_frame(std::span<room_summary const> rooms)
{
    json list = json::array();
    for (auto const& r : rooms) {
        json entry{{"room", r.room}, {"lastSeq", r.last_seq}, {"online", r.online}, {"member", r.member}};
        if (r.member) {
            entry["lastReadSeq"] = r.last_read_seq;
            entry["unread"] = r.last_seq > r.last_read_seq ? r.last_seq - r.last_read_seq : 0;
        }
        list.push_back(std::move(entry));
    }
    return dump(json{{"type", "rooms"}, {"rooms", list}});
}

std::string read_frame(std::string_view room, std::int64_t seq)
{
    return dump(json{{"type", "read"}, {"room", room}, {"seq", seq}});
}

std::string pong_frame()
{
    return R"({"type":"pong"})";
}

std::string presence_frame(std::string_view room, identity const& user, std::string_view state)
{
    return dump(json{{"type", "presence"}, {"room", room}, {"user", user_json(user)}, {"state", state}});
}

std::string typing_frame(std::string_view room, identity const& user)
{
    return dump(json{{"type", "typing"}, {"room", room}, {"user", user_json(user)}});
}

std::string error_frame(errc code, std::string_view message, error_echo const& echo,
                        std::string_view request_id, bool valid_actions)
{
    json doc{{"type", "error"},
             {"code", protocol_code(code)},
             {"message", message},
             {"action", echo.action},
             {"requestId", request_id}};
    if (!echo.room.empty()) {
        doc["room"] = echo.room;
    }
    if (!echo.client_msg_id.empty()) {
        doc["clientMsgId"] = echo.client_msg_id;
    }
    if (valid_actions) {
        doc["validActions"] = names;
    }
    return dump(doc);
}

} // namespace stratus
