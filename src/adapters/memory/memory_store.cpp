#include "adapters/memory/memory_store.hpp"

#include <algorithm>

namespace stratus {

result<void> memory_store::put_connection(connection_record const& record)
{
    std::lock_guard lock(mutex_);
    connections_[record.connection_id] = record;
    return {};
}

result<std::optional<connection_record>> memory_store::get_connection(std::string_view connection_id,
                                                                      std::int64_t now_s)
{
    std::lock_guard lock(mutex_);
    auto const it = connections_.find(connection_id);
    if (it == connections_.end() || it->second.expires_at_s <= now_s) {
        return std::optional<connection_record>{};
    }
    return std::optional<connection_record>{it->second};
}

bool memory_store::user_subscribed(room_state const& room, std::string_view user_id) const
{
    return std::any_of(room.subscriptions.begin(), room.subscriptions.end(),
                       [&](auto const& entry) { return entry.second.user_id == user_id; });
}

result<removal_result> memory_store::remove_connection(std::string_view connection_id)
{
    std::lock_guard lock(mutex_);
    removal_result removed;
    auto const it = connections_.find(connection_id);
    if (it == connections_.end()) {
        return removed;
    }
    removed.connection = it->second;
    connections_.erase(it);
    if (auto const subs = rooms_of_connection_.find(connection_id); subs != rooms_of_connection_.end()) {
        for (auto const& name : subs->second) {
            auto& room = rooms_[name];
            room.subscriptions.erase(std::string(connection_id));
            if (!user_subscribed(room, removed.connection->user.user_id)) {
                removed.rooms_now_offline.push_back(name);
            }
        }
        rooms_of_connection_.erase(subs);
    }
    return removed;
}

result<join_result> memory_store::join_room(std::string_view name, connection_record const& connection,
                                            std::int64_t now_ms)
{
    std::lock_guard lock(mutex_);
    // Presence counts live connections only, like subscribers(); the joiner
    // always counts.
    auto const now_s = now_ms / 1000;
    auto const live = [&](std::string const& id) {
        if (id == connection.connection_id) {
            return true;
        }
        auto const conn = connections_.find(id);
        return conn != connections_.end() && conn->second.expires_at_s > now_s;
    };
    join_result joined;
    auto it = rooms_.find(name);
    if (it == rooms_.end()) {
        it = rooms_.emplace(std::string(name), room_state{}).first;
        joined.created = true;
    }
    auto& room = it->second;
    room.members.emplace(connection.user.user_id, room.last_seq); // a new member starts with nothing unread
    joined.user_was_online = false;
    for (auto const& [id, user] : room.subscriptions) {
        if (user.user_id == connection.user.user_id && id != connection.connection_id && live(id)) {
            joined.user_was_online = true;
        }
    }
    room.subscriptions[connection.connection_id] = connection.user;
    rooms_of_connection_[connection.connection_id].insert(std::string(name));
    joined.last_seq = room.last_seq;
    std::map<std::string, identity> online;
    for (auto const& [id, user] : room.subscriptions) {
        if (live(id)) {
            online.emplace(user.user_id, user);
        }
    }
    for (auto& [id, user] : online) {
        joined.online.push_back(user);
    }
    return joined;
}

result<leave_result> memory_store::leave_room(std::string_view name, std::string_view user_id)
{
    std::lock_guard lock(mutex_);
    leave_result left;
    auto const it = rooms_.find(name);
    if (it == rooms_.end()) {
        return left;
    }
    auto& room = it->second;
    left.was_member = room.members.erase(std::string(user_id)) > 0;
    for (auto sub = room.subscriptions.begin(); sub != room.subscriptions.end();) {
        if (sub->second.user_id == user_id) {
            left.user_was_online = true;
            auto const conn = connections_.find(sub->first);
            left.subscriptions.push_back(
                subscriber{sub->first, sub->second, conn != connections_.end() ? conn->second.endpoint : ""});
            rooms_of_connection_[sub->first].erase(std::string(name));
            sub = room.subscriptions.erase(sub);
        } else {
            ++sub;
        }
    }
    return left;
}

result<bool> memory_store::is_member(std::string_view name, std::string_view user_id)
{
    std::lock_guard lock(mutex_);
    auto const it = rooms_.find(name);
    return it != rooms_.end() && it->second.members.count(std::string(user_id)) > 0;
}

result<std::vector<subscriber>> memory_store::subscribers(std::string_view name, std::int64_t now_s)
{
    std::lock_guard lock(mutex_);
    std::vector<subscriber> list;
    auto const it = rooms_.find(name);
    if (it == rooms_.end()) {
        return list;
    }
    for (auto const& [id, user] : it->second.subscriptions) {
        auto const conn = connections_.find(id);
        if (conn != connections_.end() && conn->second.expires_at_s > now_s) {
            list.push_back(subscriber{id, user, conn->second.endpoint});
        }
    }
    return list;
}

result<std::vector<room_summary>> memory_store::list_rooms(std::string_view user_id, std::int64_t now_s)
{
    std::lock_guard lock(mutex_);
    std::vector<room_summary> list;
    for (auto const& [name, room] : rooms_) {
        room_summary summary;
        summary.room = name;
        summary.last_seq = room.last_seq;
        std::set<std::string> online;
        for (auto const& [id, user] : room.subscriptions) {
            auto const conn = connections_.find(id);
            if (conn != connections_.end() && conn->second.expires_at_s > now_s) {
                online.insert(user.user_id);
            }
        }
        summary.online = static_cast<int>(online.size());
        if (auto const m = room.members.find(std::string(user_id)); m != room.members.end()) {
            summary.member = true;
            summary.last_read_seq = m->second;
        }
        list.push_back(std::move(summary));
    }
    return list;
}

result<append_result> memory_store::append_message(new_message const& message)
{
    std::lock_guard lock(mutex_);
    auto const key = std::make_pair(message.from.user_id, message.client_msg_id);
    auto const now_s = message.ts_ms / 1000;
    if (auto const d = dedupe_.find(key); d != dedupe_.end() && d->second.expires_at_s > now_s) {
        if (d->second.room != message.room) {
            return fail(errc::conflict, "clientMsgId was already used in another room");
        }
        return append_result{rooms_[d->second.room].messages.at(d->second.seq), true};
    }
    auto& room = rooms_[message.room];
    stored_message stored;
    stored.room = message.room;
    stored.seq = ++room.last_seq;
    stored.id = message.id;
    stored.from = message.from;
    stored.text = message.text;
    stored.ts_ms = message.ts_ms;
    stored.client_msg_id = message.client_msg_id;
    room.messages[stored.seq] = stored;
    dedupe_[key] = dedupe_entry{message.room, stored.seq, message.dedupe_expires_at_s};
    return append_result{std::move(stored), false};
}

result<history_page> memory_store::history(history_query const& query)
{
    std::lock_guard lock(mutex_);
    history_page page;
    auto const it = rooms_.find(query.room);
    if (it == rooms_.end()) {
        return page;
    }
    auto const& messages = it->second.messages;
    auto const limit = static_cast<std::size_t>(std::max(query.limit, 0));
    if (query.after) {
        for (auto m = messages.upper_bound(*query.after); m != messages.end(); ++m) {
            if (page.messages.size() == limit) {
                page.has_more = true;
                break;
            }
            page.messages.push_back(m->second);
        }
        return page;
    }
    // Newest `limit` below `before` (or overall), returned ascending.
    auto end = query.before ? messages.lower_bound(*query.before) : messages.end();
    std::vector<stored_message> reversed;
    for (auto m = std::make_reverse_iterator(end); m != messages.rend(); ++m) {
        if (reversed.size() == limit) {
            page.has_more = true;
            break;
        }
        reversed.push_back(m->second);
    }
    page.messages.assign(reversed.rbegin(), reversed.rend());
    return page;
}

result<std::int64_t> memory_store::mark_read(std::string_view name, std::string_view user_id,
                                             std::int64_t seq)
{
    std::lock_guard lock(mutex_);
    auto const it = rooms_.find(name);
    if (it == rooms_.end()) {
        return fail(errc::not_member, "not a member of room '" + std::string(name) + "'");
    }
    auto const m = it->second.members.find(std::string(user_id));
    if (m == it->second.members.end()) {
        return fail(errc::not_member, "not a member of room '" + std::string(name) + "'");
    }
    m->second = std::max(m->second, std::min(seq, it->second.last_seq));
    return m->second;
}

result<std::int64_t> memory_store::last_seq(std::string_view name)
{
    std::lock_guard lock(mutex_);
    auto const it = rooms_.find(name);
    if (it == rooms_.end()) {
        return fail(errc::not_found, "no room '" + std::string(name) + "'");
    }
    return it->second.last_seq;
}

} // namespace stratus
