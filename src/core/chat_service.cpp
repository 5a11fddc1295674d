#include "core/chat_service.hpp"

#include <deque>
#include <functional>
#include <set>
#include <utility>

#include "core/message_id.hpp"

namespace stratus {
namespace {

proxy_response status_only(int status)
{
    proxy_response response;
    response.status_code = status;
    return response;
}

proxy_response frame_response(int status, std::string frame)
{
    proxy_response response;
    response.status_code = status;
    response.body = std::move(frame);
    return response;
}

int status_for(errc code)
{
    switch (code) {
    case errc::unavailable:
    case errc::internal:
    case errc::gone:
        return 500;
    case errc::throttled:
        return 429;
    case errc::unauthorized:
        return 401;
    case errc::not_member:
        return 403;
    case errc::not_found:
        return 404;
    case errc::too_large:
        return 413;
    case errc::invalid_request:
    case errc::conflict:
        return 400;
    }
    return 500;
}

// What the client sees for an error: store details stay in the server's logs.
std::string client_message(error const& err)
{
    if (err.code == errc::unavailable || err.code == errc::internal || err.code == errc::gone) {
        return "internal error; the request was not applied, retry later";
    }
    return err.detail;
}

} // namespace

chat_service::chat_service(store& store, pusher& pusher, clock& clock, token_verifier& verifier,
                           chat_options options, logger* log)
    : store_(store), pusher_(pusher), clock_(clock), verifier_(verifier), options_(options),
      log_(log != nullptr ? *log : null_log_),
      user_rate_(options_.user_rate_per_second, options_.user_rate_burst),
      known_(options_.known_connections_capacity, options_.known_connections_max_age_s)
{
}

proxy_response chat_service::handle(apigw_event const& event)
{
    if (event.event_type == "CONNECT") {
        return on_connect(event);
    }
    if (event.event_type == "DISCONNECT") {
        return on_disconnect(event);
    }
    return on_message(event);
}

proxy_response chat_service::on_connect(apigw_event const& event)
{
    auto const token = event.query.find("token");
    if (token == event.query.end() || token->second.empty()) {
        log_.warn("$connect refused", "no token (connection " + event.connection_id + ")");
        return status_only(401);
    }
    auto user = verifier_.verify(token->second);
    if (!user) {
        log_.warn("$connect refused", user.error().detail + " (connection " + event.connection_id + ")");
        return status_only(401);
    }
    connection_record record;
    record.connection_id = event.connection_id;
    record.user = std::move(*user);
    record.connected_at_ms = event.connected_at_ms != 0 ? event.connected_at_ms : clock_.now_ms();
    record.expires_at_s = record.connected_at_ms / 1000 + options_.connection_ttl_s;
    record.endpoint = callback_endpoint(event);
    if (auto stored = store_.put_connection(record); !stored) {
        log_.warn("$connect failed", stored.error().detail);
        return status_only(500);
    }
    known_.remember(record, now_s());
    return status_only(200);
}

proxy_response chat_service::on_disconnect(apigw_event const& event)
{
    // The socket is closed: concurrent fan-outs in this process skip it from now on.
    gone_.add(event.connection_id);
    remove_gone({event.connection_id});
    return status_only(200);
}

proxy_response chat_service::on_message(apigw_event const& event)
{
    std::string const body = event.body.value_or("");
    // Errors echo the request's action, room and clientMsgId (parsed only when needed).
    auto error_response = [&](errc code, std::string_view message, std::string_view action,
                              bool valid_actions = false) {
        auto echo = peek_echo(body);
        echo.action = std::string(action);
        return frame_response(status_for(code),
                              error_frame(code, message, echo, event.request_id, valid_actions));
    };

    auto const kind = action_from_name(event.route_key);
    if (!kind) {
        // $default (or a route this handler does not know): list what is valid.
        auto name = peek_action(body);
        std::string message = name.empty() ? "frame is not a JSON object with a string 'action'"
                                           : "unknown action '" + name + "'";
        message += "; valid actions: ";
        bool first = true;
        for (auto const valid : action_names()) {
            message += first ? "" : ", ";
            message += valid;
            first = false;
        }
        return error_response(errc::invalid_request, message, name, true);
    }

    auto const action_name = action_names()[static_cast<std::size_t>(*kind)];
    auto request = parse_client_request(*kind, body);
    if (!request) {
        return error_response(request.error().code, request.error().detail, action_name);
    }
    auto caller = sender_of(event.connection_id);
    if (!caller) {
        return error_response(errc::internal, client_message(caller.error()), action_name);
    }
    if (!*caller) {
        return error_response(errc::unauthorized, "connection is not registered; reconnect", action_name);
    }
    if (*kind != action::ping) {
        if (auto const wait_ms = user_rate_.acquire((*caller)->user.user_id, clock_.now_ms()); wait_ms > 0) {
            return error_response(errc::throttled,
                                  "too many requests from this user: slow down and retry after " +
                                      std::to_string(wait_ms) + " ms",
                                  action_name);
        }
    }
    auto reply = dispatch(*request, **caller);
    if (!reply) {
        return error_response(reply.error().code, client_message(reply.error()), action_name);
    }
    if (reply->empty()) {
        return status_only(200);
    }
    return frame_response(200, std::move(*reply));
}

result<std::optional<connection_record>> chat_service::sender_of(std::string const& connection_id)
{
    auto const now = now_s();
    if (auto known = known_.find(connection_id, now)) {
        return known;
    }
    auto stored = store_.get_connection(connection_id, now);
    if (stored && *stored && !gone_.contains(connection_id)) {
        known_.remember(**stored, now);
    }
    return stored;
}

result<std::string> chat_service::dispatch(client_request const& request, connection_record const& caller)
{
    switch (request.kind) {
    case action::join_room:
        return join_room(request, caller);
    case action::leave_room:
        return leave_room(request, caller);
    case action::send_message:
        return send_message(request, caller);
    case action::get_history:
        return get_history(request, caller);
    case action::typing: {
        auto typed = typing(request, caller);
        if (!typed) {
            return tl::unexpected(typed.error());
        }
        return std::string{};
    }
    case action::list_rooms:
        return list_rooms(caller);
    case action::mark_read:
        return mark_read(request, caller);
    case action::ping:
        return pong_frame();
    }
    return fail(errc::invalid_request, "unknown action");
}

result<std::string> chat_service::join_room(client_request const& request, connection_record const& caller)
{
    auto joined = store_.join_room(request.room, caller, clock_.now_ms());
    if (!joined) {
        return tl::unexpected(joined.error());
    }
    if (!joined->user_was_online) {
        broadcast(request.room, presence_frame(request.room, caller.user, "online"), caller.user.user_id);
    }
    return joined_frame(request.room, *joined);
}

result<std::string> chat_service::leave_room(client_request const& request, connection_record const& caller)
{
    auto left = store_.leave_room(request.room, caller.user.user_id);
    if (!left) {
        return tl::unexpected(left.error());
    }
    if (!left->was_member) {
        return fail(errc::not_member, "not a member of room '" + request.room + "'");
    }
    // Keep the user's other devices in step, then tell the room.
    std::vector<push_target> devices;
    for (auto const& s : left->subscriptions) {
        if (s.connection_id != caller.connection_id) {
            devices.push_back(push_target{s.connection_id, s.endpoint});
        }
    }
    auto gone = push_to(devices, left_frame(request.room));
    if (left->user_was_online) {
        broadcast(request.room, presence_frame(request.room, caller.user, "offline"));
    }
    remove_gone(std::move(gone));
    return left_frame(request.room);
}

result<std::string> chat_service::send_message(client_request const& request, connection_record const& caller)
{
    if (auto member = require_member(request.room, caller.user.user_id); !member) {
        return tl::unexpected(member.error());
    }
    auto const now = clock_.now_ms();
    new_message message;
    message.room = request.room;
    message.from = caller.user;
    message.text = request.text;
    message.client_msg_id = request.client_msg_id;
    message.id = make_message_id(now);
    message.ts_ms = now;
    message.dedupe_expires_at_s = now / 1000 + options_.dedupe_ttl_s;

    std::vector<std::string> gone;
    std::string ack;
    {
        // Commit and enqueue under the room's lock: subscribers of this process
        // then receive the room's messages in seq order.
        std::lock_guard lock(room_lock(request.room));
        auto appended = store_.append_message(message);
        if (!appended) {
            return tl::unexpected(appended.error());
        }
        ack = ack_frame(appended->message);
        if (appended->duplicate) {
            return ack; // a retry: same seq, nothing stored or broadcast again
        }
        auto subscribers = store_.subscribers(request.room, now / 1000);
        if (subscribers) {
            gone = push_to(targets_of(*subscribers), message_frame(appended->message));
        }
        // A failed subscriber lookup loses only live pushes: the message is
        // committed, so clients recover it with getHistory {after}.
    }
    remove_gone(std::move(gone));
    return ack;
}

result<std::string> chat_service::get_history(client_request const& request, connection_record const& caller)
{
    if (auto member = require_member(request.room, caller.user.user_id); !member) {
        return tl::unexpected(member.error());
    }
    history_query query;
    query.room = request.room;
    query.after = request.after;
    query.before = request.before;
    query.limit = request.limit;
    auto page = store_.history(query);
    if (!page) {
        return tl::unexpected(page.error());
    }
    return history_frame(request.room, *page);
}

result<void> chat_service::typing(client_request const& request, connection_record const& caller)
{
    if (auto member = require_member(request.room, caller.user.user_id); !member) {
        return member;
    }
    broadcast(request.room, typing_frame(request.room, caller.user), caller.user.user_id);
    return {};
}

result<std::string> chat_service::list_rooms(connection_record const& caller)
{
    auto rooms = store_.list_rooms(caller.user.user_id, now_s());
    if (!rooms) {
        return tl::unexpected(rooms.error());
    }
    return rooms_frame(*rooms);
}

result<std::string> chat_service::mark_read(client_request const& request, connection_record const& caller)
{
    auto seq = store_.mark_read(request.room, caller.user.user_id, request.seq);
    if (!seq) {
        return tl::unexpected(seq.error());
    }
    return read_frame(request.room, *seq);
}

result<void> chat_service::require_member(std::string_view room, std::string_view user_id)
{
    auto member = store_.is_member(room, user_id);
    if (!member) {
        return tl::unexpected(member.error());
    }
    if (!*member) {
        return fail(errc::not_member,
                    "not a member of room '" + std::string(room) + "'; send joinRoom first");
    }
    return {};
}

void chat_service::broadcast(std::string_view room, std::string_view payload, std::string_view skip_user)
{
    auto subscribers = store_.subscribers(room, now_s());
    if (!subscribers) {
        return; // presence and typing are best effort
    }
    remove_gone(push_to(targets_of(*subscribers, skip_user), payload));
}

std::vector<push_target> chat_service::targets_of(std::vector<subscriber>& subscribers,
                                                  std::string_view skip_user)
{
    std::vector<push_target> targets;
    targets.reserve(subscribers.size());
    for (auto& s : subscribers) {
        if (skip_user.empty() || s.user.user_id != skip_user) {
            targets.push_back(push_target{std::move(s.connection_id), std::move(s.endpoint)});
        }
    }
    return targets;
}

std::vector<std::string> chat_service::push_to(std::vector<push_target> const& targets,
                                               std::string_view payload)
{
    std::vector<std::string> gone;
    // Known-gone connections are not pushed to again; they are still reported,
    // so that a record whose removal failed earlier is retried.
    std::vector<push_target> live;
    live.reserve(targets.size());
    for (auto const& target : targets) {
        if (gone_.contains(target.connection_id)) {
            gone.push_back(target.connection_id);
        } else {
            live.push_back(target);
        }
    }
    if (live.empty()) {
        return gone;
    }
    auto const statuses = pusher_.push(live, payload);
    for (std::size_t i = 0; i < live.size() && i < statuses.size(); ++i) {
        if (statuses[i] == push_status::gone) {
            gone_.add(live[i].connection_id);
            gone.push_back(live[i].connection_id);
        }
    }
    return gone;
}

void chat_service::remove_gone(std::vector<std::string> gone)
{
    // A worklist, not recursion: announcing one departure can reveal more.
    std::deque<std::string> pending(std::make_move_iterator(gone.begin()),
                                    std::make_move_iterator(gone.end()));
    std::set<std::string> done;
    while (!pending.empty()) {
        auto id = std::move(pending.front());
        pending.pop_front();
        if (!done.insert(id).second) {
            continue;
        }
        for (auto& more : remove_and_announce(id)) {
            pending.push_back(std::move(more));
        }
    }
}

std::vector<std::string> chat_service::remove_and_announce(std::string_view connection_id)
{
    std::vector<std::string> gone;
    known_.forget(connection_id);
    auto removed = store_.remove_connection(connection_id);
    if (!removed || !removed->connection) {
        return gone;
    }
    auto const& user = removed->connection->user;
    for (auto const& room : removed->rooms_now_offline) {
        auto subscribers = store_.subscribers(room, now_s());
        if (!subscribers) {
            continue;
        }
        for (auto& id : push_to(targets_of(*subscribers), presence_frame(room, user, "offline"))) {
            gone.push_back(std::move(id));
        }
    }
    return gone;
}

std::mutex& chat_service::room_lock(std::string_view room)
{
    return room_locks_[std::hash<std::string_view>{}(room) % room_locks_.size()];
}

std::int64_t chat_service::now_s()
{
    return clock_.now_ms() / 1000;
}

} // namespace stratus
