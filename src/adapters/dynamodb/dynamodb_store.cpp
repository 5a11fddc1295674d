#include "adapters/dynamodb/dynamodb_store.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "adapters/dynamodb/attribute_value.hpp"

namespace stratus {
namespace {

using dynamodb::attribute_value;
using dynamodb::dynamodb_error;
using dynamodb::error_kind;
using json = nlohmann::json;

constexpr std::string_view meta_sk = "META";
constexpr std::string_view head_sk = "HEAD";
constexpr std::string_view rooms_pk = "ROOMS";
constexpr std::string_view dedupe_sk = "DEDUP";
constexpr std::string_view condition_failed = "ConditionalCheckFailed";
// Bounded tries when creating a room races with another writer.
constexpr int max_room_creation_attempts = 8;
// Rooms per BatchGetItem in list_rooms (two keys each: HEAD and MEMBER#<user>).
constexpr std::size_t rooms_per_batch = 50;
constexpr std::size_t max_batch_write = 25;
// Cached room heads before the cache is cleared (it is only a hint).
constexpr std::size_t max_cached_heads = 4096;

json s(std::string_view text)
{
    return attribute_value::s(text);
}

json n(std::int64_t number)
{
    return attribute_value::n(number);
}

std::string conn_pk(std::string_view id)
{
    return "CONN#" + std::string(id);
}

std::string room_pk(std::string_view room)
{
    return "ROOM#" + std::string(room);
}

std::string member_sk(std::string_view user_id)
{
    return "MEMBER#" + std::string(user_id);
}

// Zero-padded to 20 digits so that byte order is numeric order (int64 has at most 19).
std::string msg_sk(std::int64_t seq)
{
    char digits[32];
    std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(std::max<std::int64_t>(seq, 0)));
    return "MSG#" + std::string(digits);
}

// clientMsgId never contains '#' (core validation), so the key is unambiguous.
std::string dedupe_pk(std::string_view user_id, std::string_view client_msg_id)
{
    return "DEDUP#" + std::string(user_id) + "#" + std::string(client_msg_id);
}

json key(std::string_view pk, std::string_view sk)
{
    return json{{"pk", s(pk)}, {"sk", s(sk)}};
}

/// Maps a client failure onto the port's categories.
error to_error(dynamodb_error const& e, std::string_view what)
{
    errc code = errc::internal;
    switch (e.kind) {
    case error_kind::throttled:
        code = errc::throttled;
        break;
    case error_kind::server:
    case error_kind::transport:
    case error_kind::transaction_conflict:
        code = errc::unavailable;
        break;
    case error_kind::conditional_check_failed:
    case error_kind::transaction_canceled:
        code = errc::conflict;
        break;
    default:
        code = errc::internal;
        break;
    }
    return error{code, "dynamodb: " + std::string(what) + ": " + e.describe()};
}

tl::unexpected<error> failed(dynamodb_error const& e, std::string_view what)
{
    return tl::unexpected(to_error(e, what));
}

tl::unexpected<error> malformed(std::string_view what)
{
    return tl::unexpected(error{errc::internal, "dynamodb: malformed " + std::string(what) + " item"});
}

std::string string_or_empty(json const& item, std::string_view name)
{
    return attribute_value::get_s(item, name).value_or(std::string());
}

std::optional<connection_record> parse_connection(json const& item)
{
    auto id = attribute_value::get_s(item, "connectionId");
    auto user = attribute_value::get_s(item, "userId");
    auto connected = attribute_value::get_n(item, "connectedAt");
    auto ttl = attribute_value::get_n(item, "ttl");
    if (!id || !user || !connected || !ttl) {
        return std::nullopt;
    }
    return connection_record{*id, identity{*user, string_or_empty(item, "name")}, *connected, *ttl,
                             string_or_empty(item, "endpoint")};
}

std::optional<stored_message> parse_message(json const& item)
{
    auto room = attribute_value::get_s(item, "room");
    auto seq = attribute_value::get_n(item, "seq");
    auto ts = attribute_value::get_n(item, "ts");
    auto user = attribute_value::get_s(item, "userId");
    if (!room || !seq || !ts || !user) {
        return std::nullopt;
    }
    stored_message m;
    m.room = std::move(*room);
    m.seq = *seq;
    m.id = string_or_empty(item, "id");
    m.from = identity{std::move(*user), string_or_empty(item, "name")};
    m.text = string_or_empty(item, "text");
    m.ts_ms = *ts;
    m.client_msg_id = string_or_empty(item, "clientMsgId");
    return m;
}

/// A subscription item (ROOM#<room> / CONN#<id>) as the port reports it.
struct subscription_item {
    subscriber sub;
    std::int64_t ttl = 0;
};

std::optional<subscription_item> parse_subscription(json const& item)
{
    auto id = attribute_value::get_s(item, "connectionId");
    auto user = attribute_value::get_s(item, "userId");
    auto ttl = attribute_value::get_n(item, "ttl");
    if (!id || !user || !ttl) {
        return std::nullopt;
    }
    return subscription_item{
        subscriber{*id, identity{*user, string_or_empty(item, "name")}, string_or_empty(item, "endpoint")},
        *ttl};
}

// ClientRequestToken: makes a transaction the client re-sends after a 5xx or a
// lost response idempotent for 10 minutes (1-36 characters).
std::string request_token()
{
    thread_local std::mt19937_64 engine{std::random_device{}()};
    char text[40];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(engine()),
                  static_cast<unsigned long long>(engine()));
    return text;
}

json delete_request(std::string_view pk, std::string_view sk)
{
    return json{{"DeleteRequest", {{"Key", key(pk, sk)}}}};
}

json put_request(json item)
{
    return json{{"PutRequest", {{"Item", std::move(item)}}}};
}

} // namespace

dynamodb_store::dynamodb_store(dynamodb::dynamodb_client& client, dynamodb_store_options options)
    : client_(client), options_(std::move(options)),
      tables_(dynamodb::table_names::for_prefix(options_.table_prefix))
{
    options_.max_append_attempts = std::max(options_.max_append_attempts, 1);
    if (!options_.connections_table.empty()) {
        tables_.connections = options_.connections_table;
    }
    if (!options_.messages_table.empty()) {
        tables_.messages = options_.messages_table;
    }
}

dynamodb::capacity_totals dynamodb_store::capacity_totals() const
{
    return client_.capacity();
}

std::uint64_t dynamodb_store::append_conflicts() const noexcept
{
    return append_conflicts_.load(std::memory_order_relaxed);
}

// --- small helpers -------------------------------------------------------------

std::optional<dynamodb_store::head_state> dynamodb_store::cached_head(std::string const& room)
{
    std::lock_guard lock(heads_mutex_);
    auto const it = heads_.find(room);
    if (it == heads_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void dynamodb_store::remember_head(std::string const& room, head_state head)
{
    std::lock_guard lock(heads_mutex_);
    if (heads_.size() >= max_cached_heads) {
        heads_.clear();
    }
    auto& cached = heads_[room];
    // Never move the hint backwards: a slower thread may report an older head.
    if (!cached.exists || head.last_seq >= cached.last_seq) {
        cached = head;
    }
}

void dynamodb_store::forget_head(std::string const& room)
{
    std::lock_guard lock(heads_mutex_);
    heads_.erase(room);
}

result<std::optional<dynamodb_store::head_state>> dynamodb_store::read_head(std::string_view room)
{
    auto got = client_.get_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), head_sk)},
        {"ConsistentRead", true},
    });
    if (!got) {
        return failed(got.error(), "read room head");
    }
    auto const item = got->find("Item");
    if (item == got->end()) {
        return std::optional<head_state>{};
    }
    auto const last = attribute_value::get_n(*item, "lastSeq");
    if (!last) {
        return malformed("room head");
    }
    return std::optional<head_state>{head_state{true, *last}};
}

result<dynamodb_store::head_state> dynamodb_store::ensure_room(std::string_view room,
                                                               std::string_view user_id, std::int64_t now_ms,
                                                               bool& created)
{
    created = false;
    for (int attempt = 0; attempt < max_room_creation_attempts; ++attempt) {
        auto head = read_head(room);
        if (!head) {
            return tl::unexpected(head.error());
        }
        if (*head) {
            remember_head(std::string(room), **head);
            return **head;
        }
        // The head and the room index item are created together or not at all.
        auto made = client_.transact_write_items(json{
            {"TransactItems", json::array({
                                  {{"Put",
                                    {{"TableName", tables_.messages},
                                     {"Item",
                                      {{"pk", s(room_pk(room))},
                                       {"sk", s(head_sk)},
                                       {"room", s(room)},
                                       {"lastSeq", n(0)},
                                       {"createdBy", s(user_id)},
                                       {"createdAt", n(now_ms)}}},
                                     {"ConditionExpression", "attribute_not_exists(pk)"}}}},
                                  {{"Put",
                                    {{"TableName", tables_.messages},
                                     {"Item",
                                      {{"pk", s(rooms_pk)},
                                       {"sk", s(room_pk(room))},
                                       {"room", s(room)},
                                       {"createdAt", n(now_ms)}}}}}},
                              })},
            {"ClientRequestToken", request_token()},
        });
        if (made) {
            created = true;
            remember_head(std::string(room), head_state{true, 0});
            return head_state{true, 0};
        }
        // Another writer created the room (or is creating it): read it again.
        auto const& reasons = made.error().cancellation_reasons;
        auto const raced = std::any_of(reasons.begin(), reasons.end(), [](auto const& r) {
            return r.code == condition_failed || r.code == "TransactionConflict";
        });
        if (made.error().kind != error_kind::transaction_canceled) {
            return failed(made.error(), "create room");
        }
        if (!raced) {
            return fail(errc::internal, "dynamodb: create room: " + made.error().describe());
        }
        client_.pause(
            client_.backoff(attempt, options_.conflict_backoff_base, options_.conflict_backoff_cap));
    }
    return fail(errc::unavailable, "dynamodb: create room: too much contention");
}

result<std::vector<json>> dynamodb_store::room_subscriptions(std::string_view room)
{
    auto items = client_.query(json{
        {"TableName", tables_.connections},
        {"KeyConditionExpression", "pk = :p AND begins_with(sk, :c)"},
        {"ExpressionAttributeValues", {{":p", s(room_pk(room))}, {":c", s("CONN#")}}},
        {"ConsistentRead", true},
    });
    if (!items) {
        return failed(items.error(), "query room subscriptions");
    }
    return std::move(*items);
}

result<void> dynamodb_store::write_batch(std::string const& table, std::vector<json> requests)
{
    for (std::size_t first = 0; first < requests.size(); first += max_batch_write) {
        auto const last = std::min(requests.size(), first + max_batch_write);
        json chunk = json::array();
        for (auto i = first; i < last; ++i) {
            chunk.push_back(std::move(requests[i]));
        }
        auto written = client_.batch_write_item(json{{"RequestItems", {{table, std::move(chunk)}}}});
        if (!written) {
            return failed(written.error(), "batch write");
        }
    }
    return {};
}

result<std::optional<stored_message>> dynamodb_store::get_message(std::string_view room, std::int64_t seq)
{
    auto got = client_.get_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), msg_sk(seq))},
        {"ConsistentRead", true},
    });
    if (!got) {
        return failed(got.error(), "read message");
    }
    auto const item = got->find("Item");
    if (item == got->end()) {
        return std::optional<stored_message>{};
    }
    auto parsed = parse_message(*item);
    if (!parsed) {
        return malformed("message");
    }
    return std::optional<stored_message>{std::move(*parsed)};
}

// --- connections -----------------------------------------------------------------

result<void> dynamodb_store::put_connection(connection_record const& record)
{
    auto put = client_.put_item(json{
        {"TableName", tables_.connections},
        {"Item",
         {{"pk", s(conn_pk(record.connection_id))},
          {"sk", s(meta_sk)},
          {"connectionId", s(record.connection_id)},
          {"userId", s(record.user.user_id)},
          {"name", s(record.user.name)},
          {"connectedAt", n(record.connected_at_ms)},
          {"endpoint", s(record.endpoint)},
          {"ttl", n(record.expires_at_s)}}},
        {"ReturnValues", "ALL_OLD"},
    });
    if (!put) {
        return failed(put.error(), "put connection");
    }
    // A replaced record: its subscriptions carry copies that must follow.
    if (auto const old = put->find("Attributes"); old != put->end() && old->is_object() && !old->empty()) {
        auto const previous = parse_connection(*old);
        if (!previous || previous->user != record.user || previous->endpoint != record.endpoint ||
            previous->expires_at_s != record.expires_at_s) {
            return refresh_subscriptions(record);
        }
    }
    return {};
}

result<void> dynamodb_store::refresh_subscriptions(connection_record const& record)
{
    auto rooms = client_.query(json{
        {"TableName", tables_.connections},
        {"KeyConditionExpression", "pk = :p AND begins_with(sk, :r)"},
        {"ExpressionAttributeValues", {{":p", s(conn_pk(record.connection_id))}, {":r", s("ROOM#")}}},
        {"ConsistentRead", true},
    });
    if (!rooms) {
        return failed(rooms.error(), "query connection rooms");
    }
    for (auto const& item : *rooms) {
        auto const room = attribute_value::get_s(item, "room");
        if (!room) {
            return malformed("connection room");
        }
        // Only existing items: a concurrent remove_connection must not be undone.
        auto const update = [&](std::string_view pk, std::string_view sk, bool full) -> result<void> {
            json request{
                {"TableName", tables_.connections},
                {"Key", key(pk, sk)},
                {"UpdateExpression",
                 full ? "SET userId = :u, #n = :n, endpoint = :e, #t = :t" : "SET #t = :t"},
                {"ConditionExpression", "attribute_exists(pk)"},
                {"ExpressionAttributeNames",
                 full ? json{{"#n", "name"}, {"#t", "ttl"}} : json{{"#t", "ttl"}}},
                {"ExpressionAttributeValues", full ? json{{":u", s(record.user.user_id)},
                                                          {":n", s(record.user.name)},
                                                          {":e", s(record.endpoint)},
                                                          {":t", n(record.expires_at_s)}}
                                                   : json{{":t", n(record.expires_at_s)}}},
            };
            auto updated = client_.update_item(std::move(request));
            if (!updated && updated.error().kind != error_kind::conditional_check_failed) {
                return failed(updated.error(), "refresh subscription");
            }
            return {};
        };
        if (auto r = update(room_pk(*room), conn_pk(record.connection_id), true); !r) {
            return r;
        }
        if (auto r = update(conn_pk(record.connection_id), room_pk(*room), false); !r) {
            return r;
        }
    }
    return {};
}

result<std::optional<connection_record>> dynamodb_store::get_connection(std::string_view connection_id,
                                                                        std::int64_t now_s)
{
    auto got = client_.get_item(json{
        {"TableName", tables_.connections},
        {"Key", key(conn_pk(connection_id), meta_sk)},
        {"ConsistentRead", true},
    });
    if (!got) {
        return failed(got.error(), "get connection");
    }
    auto const item = got->find("Item");
    if (item == got->end()) {
        return std::optional<connection_record>{};
    }
    auto record = parse_connection(*item);
    if (!record) {
        return malformed("connection");
    }
    // TTL deletion lags: an expired record is absent.
    if (record->expires_at_s <= now_s) {
        return std::optional<connection_record>{};
    }
    return record;
}

result<removal_result> dynamodb_store::remove_connection(std::string_view connection_id)
{
    auto items = client_.query(json{
        {"TableName", tables_.connections},
        {"KeyConditionExpression", "pk = :p"},
        {"ExpressionAttributeValues", {{":p", s(conn_pk(connection_id))}}},
        {"ConsistentRead", true},
    });
    if (!items) {
        return failed(items.error(), "query connection");
    }
    removal_result removed;
    std::vector<std::string> rooms;
    std::vector<json> deletes;
    for (auto const& item : *items) {
        auto const sk = string_or_empty(item, "sk");
        if (sk == meta_sk) {
            removed.connection = parse_connection(item);
            if (!removed.connection) {
                return malformed("connection");
            }
        } else if (auto room = attribute_value::get_s(item, "room")) {
            deletes.push_back(delete_request(room_pk(*room), conn_pk(connection_id)));
            rooms.push_back(std::move(*room));
        }
        deletes.push_back(delete_request(conn_pk(connection_id), sk));
    }
    if (auto written = write_batch(tables_.connections, std::move(deletes)); !written) {
        return tl::unexpected(written.error());
    }
    if (!removed.connection) {
        return removed;
    }
    // Rooms where the user has no subscription left (checked after the deletes,
    // so two concurrent removals report a room at least once rather than never).
    auto const& user_id = removed.connection->user.user_id;
    for (auto const& room : rooms) {
        auto others = client_.query(json{
            {"TableName", tables_.connections},
            {"KeyConditionExpression", "pk = :p AND begins_with(sk, :c)"},
            {"FilterExpression", "userId = :u"},
            {"ProjectionExpression", "pk"},
            {"ExpressionAttributeValues", {{":p", s(room_pk(room))}, {":c", s("CONN#")}, {":u", s(user_id)}}},
            {"ConsistentRead", true},
        });
        if (!others) {
            return failed(others.error(), "query room subscriptions");
        }
        if (others->empty()) {
            removed.rooms_now_offline.push_back(room);
        }
    }
    return removed;
}

// --- rooms -----------------------------------------------------------------------

result<join_result> dynamodb_store::join_room(std::string_view room, connection_record const& connection,
                                              std::int64_t now_ms)
{
    join_result joined;
    auto const& user = connection.user;
    auto head = ensure_room(room, user.user_id, now_ms, joined.created);
    if (!head) {
        return tl::unexpected(head.error());
    }
    joined.last_seq = head->last_seq;

    // A new member starts with nothing unread; an existing membership is kept.
    auto member = client_.put_item(json{
        {"TableName", tables_.messages},
        {"Item",
         {{"pk", s(room_pk(room))},
          {"sk", s(member_sk(user.user_id))},
          {"room", s(room)},
          {"userId", s(user.user_id)},
          {"joinedAt", n(now_ms)},
          {"lastReadSeq", n(head->last_seq)}}},
        {"ConditionExpression", "attribute_not_exists(pk)"},
    });
    if (!member && member.error().kind != error_kind::conditional_check_failed) {
        return failed(member.error(), "add member");
    }

    // The subscription, from both sides.
    std::vector<json> puts;
    puts.push_back(put_request(json{{"pk", s(conn_pk(connection.connection_id))},
                                    {"sk", s(room_pk(room))},
                                    {"room", s(room)},
                                    {"ttl", n(connection.expires_at_s)}}));
    puts.push_back(put_request(json{{"pk", s(room_pk(room))},
                                    {"sk", s(conn_pk(connection.connection_id))},
                                    {"room", s(room)},
                                    {"connectionId", s(connection.connection_id)},
                                    {"userId", s(user.user_id)},
                                    {"name", s(user.name)},
                                    {"endpoint", s(connection.endpoint)},
                                    {"ttl", n(connection.expires_at_s)}}));
    if (auto written = write_batch(tables_.connections, std::move(puts)); !written) {
        return tl::unexpected(written.error());
    }

    // Presence among live subscriptions; the joiner always counts.
    auto items = room_subscriptions(room);
    if (!items) {
        return tl::unexpected(items.error());
    }
    auto const now_s = now_ms / 1000;
    std::map<std::string, identity> online;
    for (auto const& item : *items) {
        auto sub = parse_subscription(item);
        if (!sub) {
            return malformed("subscription");
        }
        auto const own = sub->sub.connection_id == connection.connection_id;
        if (!own && sub->ttl <= now_s) {
            continue;
        }
        if (!own && sub->sub.user.user_id == user.user_id) {
            joined.user_was_online = true;
        }
        online.emplace(sub->sub.user.user_id, sub->sub.user);
    }
    for (auto& [id, who] : online) {
        joined.online.push_back(std::move(who));
    }
    return joined;
}

result<leave_result> dynamodb_store::leave_room(std::string_view room, std::string_view user_id)
{
    leave_result left;
    auto removed = client_.delete_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), member_sk(user_id))},
        {"ReturnValues", "ALL_OLD"},
    });
    if (!removed) {
        return failed(removed.error(), "remove member");
    }
    auto const old = removed->find("Attributes");
    left.was_member = old != removed->end() && old->is_object() && !old->empty();

    auto items = client_.query(json{
        {"TableName", tables_.connections},
        {"KeyConditionExpression", "pk = :p AND begins_with(sk, :c)"},
        {"FilterExpression", "userId = :u"},
        {"ExpressionAttributeValues", {{":p", s(room_pk(room))}, {":c", s("CONN#")}, {":u", s(user_id)}}},
        {"ConsistentRead", true},
    });
    if (!items) {
        return failed(items.error(), "query room subscriptions");
    }
    std::vector<json> deletes;
    for (auto const& item : *items) {
        auto sub = parse_subscription(item);
        if (!sub) {
            return malformed("subscription");
        }
        deletes.push_back(delete_request(room_pk(room), conn_pk(sub->sub.connection_id)));
        deletes.push_back(delete_request(conn_pk(sub->sub.connection_id), room_pk(room)));
        left.subscriptions.push_back(std::move(sub->sub));
    }
    if (auto written = write_batch(tables_.connections, std::move(deletes)); !written) {
        return tl::unexpected(written.error());
    }
    left.user_was_online = !left.subscriptions.empty();
    return left;
}

result<bool> dynamodb_store::is_member(std::string_view room, std::string_view user_id)
{
    auto got = client_.get_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), member_sk(user_id))},
        {"ConsistentRead", true},
        {"ProjectionExpression", "pk"},
    });
    if (!got) {
        return failed(got.error(), "get member");
    }
    return got->contains("Item");
}

result<std::vector<subscriber>> dynamodb_store::subscribers(std::string_view room, std::int64_t now_s)
{
    auto items = client_.query(json{
        {"TableName", tables_.connections},
        {"KeyConditionExpression", "pk = :p AND begins_with(sk, :c)"},
        {"FilterExpression", "#t > :now"},
        {"ExpressionAttributeNames", {{"#t", "ttl"}}},
        {"ExpressionAttributeValues", {{":p", s(room_pk(room))}, {":c", s("CONN#")}, {":now", n(now_s)}}},
        {"ConsistentRead", true},
    });
    if (!items) {
        return failed(items.error(), "query subscribers");
    }
    std::vector<subscriber> list;
    list.reserve(items->size());
    for (auto const& item : *items) {
        auto sub = parse_subscription(item);
        if (!sub) {
            return malformed("subscription");
        }
        // The filter already did this; the check keeps it true on any server.
        if (sub->ttl > now_s) {
            list.push_back(std::move(sub->sub));
        }
    }
    return list;
}

result<std::vector<room_summary>> dynamodb_store::list_rooms(std::string_view user_id, std::int64_t now_s)
{
    auto index = client_.query(json{
        {"TableName", tables_.messages},
        {"KeyConditionExpression", "pk = :p"},
        {"ExpressionAttributeValues", {{":p", s(rooms_pk)}}},
        {"ConsistentRead", true},
    });
    if (!index) {
        return failed(index.error(), "query room index");
    }
    std::vector<room_summary> list;
    for (auto const& item : *index) {
        auto room = attribute_value::get_s(item, "room");
        if (!room) {
            return malformed("room index");
        }
        room_summary summary;
        summary.room = std::move(*room);
        list.push_back(std::move(summary));
    }

    // Heads and the user's memberships, by key, in batches.
    for (std::size_t first = 0; first < list.size(); first += rooms_per_batch) {
        auto const last = std::min(list.size(), first + rooms_per_batch);
        json keys = json::array();
        for (auto i = first; i < last; ++i) {
            keys.push_back(key(room_pk(list[i].room), head_sk));
            keys.push_back(key(room_pk(list[i].room), member_sk(user_id)));
        }
        auto got = client_.batch_get_item(json{
            {"RequestItems", {{tables_.messages, {{"Keys", std::move(keys)}, {"ConsistentRead", true}}}}}});
        if (!got) {
            return failed(got.error(), "batch get rooms");
        }
        std::map<std::pair<std::string, std::string>, json const*> found;
        if (auto const items = got->find(tables_.messages); items != got->end()) {
            for (auto const& item : *items) {
                found[{string_or_empty(item, "pk"), string_or_empty(item, "sk")}] = &item;
            }
        }
        for (auto i = first; i < last; ++i) {
            auto& summary = list[i];
            if (auto const head = found.find({room_pk(summary.room), std::string(head_sk)});
                head != found.end()) {
                summary.last_seq = attribute_value::get_n(*head->second, "lastSeq").value_or(0);
            }
            if (auto const member = found.find({room_pk(summary.room), member_sk(user_id)});
                member != found.end()) {
                summary.member = true;
                summary.last_read_seq = attribute_value::get_n(*member->second, "lastReadSeq").value_or(0);
            }
        }
    }

    // Distinct live users per room: one Query on each room's subscriptions.
    for (auto& summary : list) {
        auto items = client_.query(json{
            {"TableName", tables_.connections},
            {"KeyConditionExpression", "pk = :p AND begins_with(sk, :c)"},
            {"FilterExpression", "#t > :now"},
            {"ProjectionExpression", "userId, #t"},
            {"ExpressionAttributeNames", {{"#t", "ttl"}}},
            {"ExpressionAttributeValues",
             {{":p", s(room_pk(summary.room))}, {":c", s("CONN#")}, {":now", n(now_s)}}},
            {"ConsistentRead", true},
        });
        if (!items) {
            return failed(items.error(), "query room presence");
        }
        std::set<std::string> users;
        for (auto const& item : *items) {
            if (attribute_value::get_n(item, "ttl").value_or(0) > now_s) {
                users.insert(string_or_empty(item, "userId"));
            }
        }
        summary.online = static_cast<int>(users.size());
    }
    return list;
}

// --- messages --------------------------------------------------------------------

result<append_result> dynamodb_store::duplicate_of(json const& dedupe_item, new_message const& message)
{
    auto const room = attribute_value::get_s(dedupe_item, "room");
    auto const seq = attribute_value::get_n(dedupe_item, "seq");
    if (!room || !seq) {
        return malformed("dedupe");
    }
    if (*room != message.room) {
        return fail(errc::conflict, "clientMsgId was already used in another room");
    }
    auto original = get_message(*room, *seq);
    if (!original) {
        return tl::unexpected(original.error());
    }
    if (!*original) {
        return fail(errc::internal, "dynamodb: dedupe item points at a missing message");
    }
    return append_result{std::move(**original), true};
}

result<append_result> dynamodb_store::append_message(new_message const& message)
{
    auto const now_s = message.ts_ms / 1000;
    auto const pk = room_pk(message.room);
    auto const dedupe_key = key(dedupe_pk(message.from.user_id, message.client_msg_id), dedupe_sk);
    // Threads of this process append to one room one at a time (see the class comment).
    std::lock_guard turn(append_stripes_[std::hash<std::string>{}(message.room) % append_stripe_count]);

    auto const deadline = std::chrono::steady_clock::now() + options_.append_timeout;
    for (int attempt = 0; attempt < options_.max_append_attempts; ++attempt) {
        if (attempt > 0 && std::chrono::steady_clock::now() >= deadline) {
            break;
        }
        auto head = cached_head(message.room);
        if (!head) {
            auto read = read_head(message.room);
            if (!read) {
                return tl::unexpected(read.error());
            }
            head = read->value_or(head_state{});
        }
        stored_message stored;
        stored.room = message.room;
        stored.seq = head->last_seq + 1;
        stored.id = message.id;
        stored.from = message.from;
        stored.text = message.text;
        stored.ts_ms = message.ts_ms;
        stored.client_msg_id = message.client_msg_id;

        // 0: the head, advanced on the condition that nobody else did it first.
        json items = json::array();
        if (head->exists) {
            items.push_back({{"Update",
                              {{"TableName", tables_.messages},
                               {"Key", key(pk, head_sk)},
                               {"UpdateExpression", "SET lastSeq = :next"},
                               {"ConditionExpression", "lastSeq = :expected"},
                               {"ExpressionAttributeValues",
                                {{":next", n(stored.seq)}, {":expected", n(head->last_seq)}}},
                               {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}});
        } else {
            items.push_back({{"Put",
                              {{"TableName", tables_.messages},
                               {"Item",
                                {{"pk", s(pk)},
                                 {"sk", s(head_sk)},
                                 {"room", s(message.room)},
                                 {"lastSeq", n(stored.seq)},
                                 {"createdBy", s(message.from.user_id)},
                                 {"createdAt", n(message.ts_ms)}}},
                               {"ConditionExpression", "attribute_not_exists(pk)"},
                               {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}});
        }
        // 1: the message, at a seq nobody holds.
        items.push_back({{"Put",
                          {{"TableName", tables_.messages},
                           {"Item",
                            {{"pk", s(pk)},
                             {"sk", s(msg_sk(stored.seq))},
                             {"room", s(stored.room)},
                             {"seq", n(stored.seq)},
                             {"id", s(stored.id)},
                             {"userId", s(stored.from.user_id)},
                             {"name", s(stored.from.name)},
                             {"text", s(stored.text)},
                             {"ts", n(stored.ts_ms)},
                             {"clientMsgId", s(stored.client_msg_id)}}},
                           {"ConditionExpression", "attribute_not_exists(pk)"}}}});
        // 2: the dedupe record, unless a live one exists (TTL deletion lags).
        json dedupe_item = dedupe_key;
        dedupe_item["userId"] = s(message.from.user_id);
        dedupe_item["clientMsgId"] = s(message.client_msg_id);
        dedupe_item["room"] = s(message.room);
        dedupe_item["seq"] = n(stored.seq);
        dedupe_item["ttl"] = n(message.dedupe_expires_at_s);
        items.push_back({{"Put",
                          {{"TableName", tables_.messages},
                           {"Item", std::move(dedupe_item)},
                           {"ConditionExpression", "attribute_not_exists(pk) OR #t <= :now"},
                           {"ExpressionAttributeNames", {{"#t", "ttl"}}},
                           {"ExpressionAttributeValues", {{":now", n(now_s)}}},
                           {"ReturnValuesOnConditionCheckFailure", "ALL_OLD"}}}});
        // 3: a new room also enters the room index.
        if (!head->exists) {
            items.push_back({{"Put",
                              {{"TableName", tables_.messages},
                               {"Item",
                                {{"pk", s(rooms_pk)},
                                 {"sk", s(pk)},
                                 {"room", s(message.room)},
                                 {"createdAt", n(message.ts_ms)}}}}}});
        }

        auto written = client_.transact_write_items(
            json{{"TransactItems", std::move(items)}, {"ClientRequestToken", request_token()}});
        if (written) {
            remember_head(message.room, head_state{true, stored.seq});
            return append_result{std::move(stored), false};
        }
        auto const& e = written.error();
        if (e.kind != error_kind::transaction_canceled) {
            forget_head(message.room);
            return failed(e, "append transaction");
        }
        auto const& reasons = e.cancellation_reasons;
        auto const code = [&](std::size_t i) { return i < reasons.size() ? reasons[i].code : std::string(); };
        auto const any_code = [&](std::string_view wanted) {
            return std::any_of(reasons.begin(), reasons.end(),
                               [&](auto const& r) { return r.code == wanted; });
        };

        // A live dedupe record: this is a retry of a stored message.
        if (code(2) == condition_failed) {
            if (reasons[2].item.is_object() && !reasons[2].item.empty()) {
                return duplicate_of(reasons[2].item, message);
            }
            auto got = client_.get_item(
                json{{"TableName", tables_.messages}, {"Key", dedupe_key}, {"ConsistentRead", true}});
            if (!got) {
                return failed(got.error(), "read dedupe");
            }
            auto const found = got->find("Item");
            if (found != got->end() && attribute_value::get_n(*found, "ttl").value_or(0) > now_s) {
                return duplicate_of(*found, message);
            }
            continue; // it expired in between: try again
        }
        // Another writer advanced the head first, or DynamoDB saw the two
        // transactions overlap: retry against the head as it is now.
        if (code(0) == condition_failed || any_code("TransactionConflict")) {
            append_conflicts_.fetch_add(1, std::memory_order_relaxed);
            auto const now_head = code(0) == condition_failed && reasons[0].item.is_object()
                                      ? attribute_value::get_n(reasons[0].item, "lastSeq")
                                      : std::nullopt;
            if (now_head) {
                remember_head(message.room, head_state{true, *now_head});
            } else {
                forget_head(message.room);
            }
            client_.pause(
                client_.backoff(attempt, options_.conflict_backoff_base, options_.conflict_backoff_cap));
            continue;
        }
        if (any_code("ProvisionedThroughputExceeded") || any_code("ThrottlingError")) {
            client_.pause(client_.backoff(attempt));
            continue;
        }
        // A message at a seq the head had not reached (the table is inconsistent),
        // or a rejected item: never retried, never overwritten.
        forget_head(message.room);
        return fail(errc::internal, "dynamodb: append transaction: " + e.describe());
    }
    return fail(errc::unavailable, "dynamodb: append: room head contended; gave up after " +
                                       std::to_string(options_.max_append_attempts) + " attempts or " +
                                       std::to_string(options_.append_timeout.count()) + " ms");
}

result<history_page> dynamodb_store::history(history_query const& query)
{
    history_page page;
    auto const limit = static_cast<std::size_t>(std::max(query.limit, 0));
    constexpr auto max_seq = std::numeric_limits<std::int64_t>::max();
    json request{
        {"TableName", tables_.messages},
        {"KeyConditionExpression", "pk = :p AND sk BETWEEN :lo AND :hi"},
        {"ConsistentRead", true},
    };
    if (query.after) {
        if (*query.after >= max_seq) {
            return page;
        }
        request["ExpressionAttributeValues"] = {
            {":p", s(room_pk(query.room))},
            {":lo", s(msg_sk(std::max<std::int64_t>(*query.after, 0) + 1))},
            {":hi", s(msg_sk(max_seq))}};
        request["ScanIndexForward"] = true;
    } else {
        // The newest `limit` below `before`: read backwards, return ascending.
        auto const before = query.before.value_or(max_seq);
        if (before <= 1) {
            return page;
        }
        request["ExpressionAttributeValues"] = {
            {":p", s(room_pk(query.room))}, {":lo", s(msg_sk(1))}, {":hi", s(msg_sk(before - 1))}};
        request["ScanIndexForward"] = false;
    }
    // One item more than asked tells whether there is more.
    auto items = client_.query(std::move(request), limit + 1);
    if (!items) {
        return failed(items.error(), "query history");
    }
    for (auto const& item : *items) {
        if (page.messages.size() == limit) {
            page.has_more = true;
            break;
        }
        auto m = parse_message(item);
        if (!m) {
            return malformed("message");
        }
        page.messages.push_back(std::move(*m));
    }
    if (!query.after) {
        std::reverse(page.messages.begin(), page.messages.end());
    }
    return page;
}

result<std::int64_t> dynamodb_store::mark_read(std::string_view room, std::string_view user_id,
                                               std::int64_t seq)
{
    auto const not_member = [&] {
        return fail(errc::not_member, "not a member of room '" + std::string(room) + "'");
    };
    auto head = read_head(room);
    if (!head) {
        return tl::unexpected(head.error());
    }
    if (!*head) {
        return not_member();
    }
    // Raise to min(seq, last_seq), never lower.
    auto const target = std::min(seq, (*head)->last_seq);
    auto updated = client_.update_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), member_sk(user_id))},
        {"UpdateExpression", "SET lastReadSeq = :v"},
        {"ConditionExpression", "attribute_exists(pk) AND lastReadSeq < :v"},
        {"ExpressionAttributeValues", {{":v", n(target)}}},
        {"ReturnValues", "ALL_NEW"},
    });
    if (updated) {
        auto const position =
            attribute_value::get_n(updated->value("Attributes", json::object()), "lastReadSeq");
        if (!position) {
            return malformed("member");
        }
        return *position;
    }
    if (updated.error().kind != error_kind::conditional_check_failed) {
        return failed(updated.error(), "mark read");
    }
    // Not a member, or already at or past the target.
    auto got = client_.get_item(json{
        {"TableName", tables_.messages},
        {"Key", key(room_pk(room), member_sk(user_id))},
        {"ConsistentRead", true},
    });
    if (!got) {
        return failed(got.error(), "get member");
    }
    auto const item = got->find("Item");
    if (item == got->end()) {
        return not_member();
    }
    auto const position = attribute_value::get_n(*item, "lastReadSeq");
    if (!position) {
        return malformed("member");
    }
    return *position;
}

result<std::int64_t> dynamodb_store::last_seq(std::string_view room)
{
    auto head = read_head(room);
    if (!head) {
        return tl::unexpected(head.error());
    }
    if (!*head) {
        return fail(errc::not_found, "no room '" + std::string(room) + "'");
    }
    return (*head)->last_seq;
}

} // namespace stratus
