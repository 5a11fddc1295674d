#include "contract/store_contract.hpp"

#include <algorithm>
#include <cstdint>
#include <latch>
#include <map>
#include <numeric>
#include <set>
#include <source_location>
#include <string>
#include <thread>
#include <vector>

namespace stratus::contract {

void StoreContract::SetUp()
{
    store_ = GetParam()->make();
    ASSERT_NE(store_, nullptr) << GetParam()->name() << " factory made no store";
}

std::string factory_name(::testing::TestParamInfo<std::shared_ptr<store_factory>> const& info)
{
    return info.param->name();
}

void PrintTo(std::shared_ptr<store_factory> const& factory, std::ostream* os)
{
    *os << (factory ? factory->name() : std::string("null"));
}

namespace {

// A fixed "now" well inside the range every store supports.
constexpr std::int64_t now_s = 1'700'000'000;
constexpr std::int64_t now_ms = now_s * 1000;
// Connections live for API Gateway's 2 h; dedupe records for 24 h.
constexpr std::int64_t live_until_s = now_s + 2 * 3600;
constexpr std::int64_t dedupe_until_s = now_s + 24 * 3600;

connection_record connection(std::string const& id, std::string const& user,
                             std::int64_t expires_at_s = live_until_s)
{
    return connection_record{id, identity{user, "name of " + user}, now_ms - 1000, expires_at_s,
                             "https://gw-" + user + ".example/local"};
}

new_message message(std::string const& room, std::string const& user, std::string const& client_msg_id,
                    std::string const& text = "hello", std::int64_t ts_ms = now_ms,
                    std::int64_t dedupe_expires_at_s = dedupe_until_s)
{
    new_message m;
    m.room = room;
    m.from = identity{user, "name of " + user};
    m.text = text;
    m.client_msg_id = client_msg_id;
    m.id = "id-" + user + "-" + client_msg_id + "-" + std::to_string(ts_ms);
    m.ts_ms = ts_ms;
    m.dedupe_expires_at_s = dedupe_expires_at_s;
    return m;
}

history_query after(std::string const& room, std::int64_t seq, int limit)
{
    return history_query{room, seq, std::nullopt, limit};
}

history_query before(std::string const& room, std::int64_t seq, int limit)
{
    return history_query{room, std::nullopt, seq, limit};
}

history_query newest(std::string const& room, int limit)
{
    return history_query{room, std::nullopt, std::nullopt, limit};
}

/// The value of a result, or a test failure (at the caller's line) and T{}.
template <class T>
T value_of(result<T> r, std::source_location where = std::source_location::current())
{
    if (!r) {
        ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
            << "store error " << to_string(r.error().code) << ": " << r.error().detail;
        return T{};
    }
    return std::move(*r);
}

void expect_ok(result<void> const& r, std::source_location where = std::source_location::current())
{
    if (!r) {
        ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
            << "store error " << to_string(r.error().code) << ": " << r.error().detail;
    }
}

template <class T>
void expect_error(result<T> const& r, errc code, std::source_location where = std::source_location::current())
{
    if (r) {
        ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
            << "expected " << to_string(code) << ", got a value";
    } else if (r.error().code != code) {
        ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
            << "expected " << to_string(code) << ", got " << to_string(r.error().code) << ": "
            << r.error().detail;
    }
}

std::vector<std::int64_t> seqs_of(history_page const& page)
{
    std::vector<std::int64_t> seqs;
    for (auto const& m : page.messages) {
        seqs.push_back(m.seq);
    }
    return seqs;
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t last)
{
    std::vector<std::int64_t> seqs(static_cast<std::size_t>(std::max<std::int64_t>(last - first + 1, 0)));
    std::iota(seqs.begin(), seqs.end(), first);
    return seqs;
}

std::vector<std::string> user_ids(std::vector<identity> const& users)
{
    std::vector<std::string> ids;
    for (auto const& u : users) {
        ids.push_back(u.user_id);
    }
    return ids;
}

std::vector<std::string> connection_ids(std::vector<subscriber> const& list)
{
    std::vector<std::string> ids;
    for (auto const& s : list) {
        ids.push_back(s.connection_id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::vector<std::string> sorted(std::vector<std::string> v)
{
    std::sort(v.begin(), v.end());
    return v;
}

/// Appends `count` messages from "writer" to `room`.
void fill(store& s, std::string const& room, int count)
{
    for (int i = 1; i <= count; ++i) {
        auto appended = s.append_message(message(room, "writer", "fill-" + std::to_string(i)));
        ASSERT_TRUE(appended) << appended.error().detail;
        ASSERT_EQ(appended->message.seq, i);
    }
}

/// Puts the connection and joins it to the room at now_ms.
join_result put_and_join(store& s, std::string const& room, connection_record const& c,
                         std::source_location where = std::source_location::current())
{
    expect_ok(s.put_connection(c), where);
    return value_of(s.join_room(room, c, now_ms), where);
}

room_summary summary_of(std::vector<room_summary> const& rooms, std::string const& name)
{
    for (auto const& r : rooms) {
        if (r.room == name) {
            return r;
        }
    }
    ADD_FAILURE() << "room " << name << " not listed";
    return room_summary{};
}

} // namespace

// --- connections -------------------------------------------------------------

TEST_P(StoreContract, PutThenGetConnection)
{
    auto const c = connection("c1", "alice");
    expect_ok(store_->put_connection(c));
    auto got = value_of(store_->get_connection("c1", now_s));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->connection_id, "c1");
    EXPECT_EQ(got->user, c.user);
    EXPECT_EQ(got->connected_at_ms, c.connected_at_ms);
    EXPECT_EQ(got->expires_at_s, c.expires_at_s);
}

TEST_P(StoreContract, GetUnknownConnectionIsAbsent)
{
    EXPECT_FALSE(value_of(store_->get_connection("nobody", now_s)).has_value());
}

TEST_P(StoreContract, GetExpiredConnectionIsAbsent)
{
    expect_ok(store_->put_connection(connection("c1", "alice", now_s + 1)));
    EXPECT_TRUE(value_of(store_->get_connection("c1", now_s)).has_value());
    // expires_at_s <= now_s counts as expired.
    EXPECT_FALSE(value_of(store_->get_connection("c1", now_s + 1)).has_value());
    EXPECT_FALSE(value_of(store_->get_connection("c1", now_s + 100)).has_value());
}

TEST_P(StoreContract, PutReplacesConnectionWithSameId)
{
    expect_ok(store_->put_connection(connection("c1", "alice", now_s + 10)));
    expect_ok(store_->put_connection(connection("c1", "alice", now_s + 500)));
    auto got = value_of(store_->get_connection("c1", now_s + 100));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->expires_at_s, now_s + 500);
}

TEST_P(StoreContract, RemoveUnknownConnectionSucceedsEmpty)
{
    auto removed = store_->remove_connection("nobody");
    ASSERT_TRUE(removed) << removed.error().detail;
    EXPECT_FALSE(removed->connection.has_value());
    EXPECT_TRUE(removed->rooms_now_offline.empty());
}

TEST_P(StoreContract, RemoveConnectionReturnsRecordAndDeletesIt)
{
    auto const c = connection("c1", "alice");
    expect_ok(store_->put_connection(c));
    auto removed = value_of(store_->remove_connection("c1"));
    ASSERT_TRUE(removed.connection.has_value());
    EXPECT_EQ(removed.connection->connection_id, "c1");
    EXPECT_EQ(removed.connection->user, c.user);
    EXPECT_FALSE(value_of(store_->get_connection("c1", now_s)).has_value());
    // Removing again is idempotent.
    auto again = value_of(store_->remove_connection("c1"));
    EXPECT_FALSE(again.connection.has_value());
}

// --- join ----------------------------------------------------------------------

TEST_P(StoreContract, JoinCreatesRoom)
{
    expect_error(store_->last_seq("lobby"), errc::not_found);
    auto joined = put_and_join(*store_, "lobby", connection("c1", "alice"));
    EXPECT_TRUE(joined.created);
    EXPECT_EQ(joined.last_seq, 0);
    EXPECT_FALSE(joined.user_was_online);
    ASSERT_EQ(joined.online.size(), 1u);
    EXPECT_EQ(joined.online[0], (identity{"alice", "name of alice"}));
    EXPECT_TRUE(value_of(store_->is_member("lobby", "alice")));
    EXPECT_EQ(value_of(store_->last_seq("lobby")), 0);
}

TEST_P(StoreContract, JoinIsIdempotent)
{
    auto const c = connection("c1", "alice");
    put_and_join(*store_, "lobby", c);
    fill(*store_, "lobby", 3);
    auto again = value_of(store_->join_room("lobby", c, now_ms));
    EXPECT_FALSE(again.created);
    EXPECT_EQ(again.last_seq, 3);
    EXPECT_FALSE(again.user_was_online) << "the same connection does not make the user already online";
    EXPECT_EQ(user_ids(again.online), (std::vector<std::string>{"alice"}));
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("lobby", now_s))),
              (std::vector<std::string>{"c1"}));
    // Re-joining keeps the read position of the existing membership.
    auto rooms = value_of(store_->list_rooms("alice", now_s));
    EXPECT_EQ(summary_of(rooms, "lobby").last_read_seq, 0);
}

TEST_P(StoreContract, JoinExistingRoomReportsLastSeqAndNewMemberHasNothingUnread)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    fill(*store_, "lobby", 4);
    auto joined = put_and_join(*store_, "lobby", connection("c2", "bob"));
    EXPECT_FALSE(joined.created);
    EXPECT_EQ(joined.last_seq, 4);
    auto rooms = value_of(store_->list_rooms("bob", now_s));
    EXPECT_TRUE(summary_of(rooms, "lobby").member);
    EXPECT_EQ(summary_of(rooms, "lobby").last_read_seq, 4);
}

TEST_P(StoreContract, JoinWithSecondConnectionReportsUserWasOnline)
{
    auto first = put_and_join(*store_, "lobby", connection("c1", "alice"));
    EXPECT_FALSE(first.user_was_online);
    auto second = put_and_join(*store_, "lobby", connection("c2", "alice"));
    EXPECT_TRUE(second.user_was_online);
    EXPECT_FALSE(second.created);
    // Another user's connection does not make alice online.
    auto bob = put_and_join(*store_, "lobby", connection("c3", "bob"));
    EXPECT_FALSE(bob.user_was_online);
}

TEST_P(StoreContract, JoinListsOnlineUsersDistinct)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    put_and_join(*store_, "lobby", connection("c2", "bob"));
    put_and_join(*store_, "other", connection("c9", "zed"));
    auto joined = put_and_join(*store_, "lobby", connection("c3", "alice"));
    EXPECT_EQ(sorted(user_ids(joined.online)), (std::vector<std::string>{"alice", "bob"}));
    for (auto const& u : joined.online) {
        EXPECT_EQ(u.name, "name of " + u.user_id);
    }
}

TEST_P(StoreContract, JoinPresenceIgnoresExpiredConnections)
{
    // Earlier, while they were live, alice and bob joined; both records have expired by now.
    auto const then_ms = (now_s - 100) * 1000;
    for (auto const& c : {connection("old-a", "alice", now_s - 1), connection("old-b", "bob", now_s)}) {
        expect_ok(store_->put_connection(c));
        ASSERT_TRUE(store_->join_room("lobby", c, then_ms));
    }
    auto joined = put_and_join(*store_, "lobby", connection("new-a", "alice"));
    EXPECT_FALSE(joined.user_was_online) << "an expired connection is not online";
    EXPECT_EQ(user_ids(joined.online), (std::vector<std::string>{"alice"}));
}

// --- leave ---------------------------------------------------------------------

TEST_P(StoreContract, LeaveRemovesMembershipAndEverySubscriptionOfTheUser)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    put_and_join(*store_, "lobby", connection("c2", "alice"));
    put_and_join(*store_, "lobby", connection("c3", "bob"));
    put_and_join(*store_, "other", connection("c1", "alice"));

    auto left = value_of(store_->leave_room("lobby", "alice"));
    EXPECT_TRUE(left.was_member);
    EXPECT_TRUE(left.user_was_online);
    EXPECT_EQ(sorted(connection_ids(left.subscriptions)), (std::vector<std::string>{"c1", "c2"}));

    EXPECT_FALSE(value_of(store_->is_member("lobby", "alice")));
    EXPECT_TRUE(value_of(store_->is_member("lobby", "bob")));
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("lobby", now_s))),
              (std::vector<std::string>{"c3"}));
    // Other rooms and the connections themselves are untouched.
    EXPECT_TRUE(value_of(store_->is_member("other", "alice")));
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("other", now_s))),
              (std::vector<std::string>{"c1"}));
    EXPECT_TRUE(value_of(store_->get_connection("c1", now_s)).has_value());
}

TEST_P(StoreContract, EndpointsTravelWithConnectionsSubscribersAndLeaves)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    put_and_join(*store_, "lobby", connection("c2", "bob"));
    EXPECT_EQ(value_of(store_->get_connection("c1", now_s))->endpoint, "https://gw-alice.example/local");
    auto subs = value_of(store_->subscribers("lobby", now_s));
    ASSERT_EQ(subs.size(), 2U);
    for (auto const& s : subs) {
        EXPECT_EQ(s.endpoint, "https://gw-" + s.user.user_id + ".example/local");
    }
    auto left = value_of(store_->leave_room("lobby", "bob"));
    ASSERT_EQ(left.subscriptions.size(), 1U);
    EXPECT_EQ(left.subscriptions[0].endpoint, "https://gw-bob.example/local");
    EXPECT_EQ(left.subscriptions[0].user.user_id, "bob");
    EXPECT_EQ(value_of(store_->remove_connection("c1")).connection->endpoint,
              "https://gw-alice.example/local");
}

TEST_P(StoreContract, LeaveTwiceReportsNotMember)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    EXPECT_TRUE(value_of(store_->leave_room("lobby", "alice")).was_member);
    auto again = value_of(store_->leave_room("lobby", "alice"));
    EXPECT_FALSE(again.was_member);
    EXPECT_FALSE(again.user_was_online);
    EXPECT_TRUE(again.subscriptions.empty());
}

TEST_P(StoreContract, LeaveUnknownRoomReportsNotMember)
{
    auto left = value_of(store_->leave_room("nowhere", "alice"));
    EXPECT_FALSE(left.was_member);
    EXPECT_TRUE(left.subscriptions.empty());
}

TEST_P(StoreContract, LeaveAfterDisconnectIsMemberButNotOnline)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    ASSERT_TRUE(store_->remove_connection("c1"));
    auto left = value_of(store_->leave_room("lobby", "alice"));
    EXPECT_TRUE(left.was_member);
    EXPECT_FALSE(left.user_was_online);
    EXPECT_TRUE(left.subscriptions.empty());
}

TEST_P(StoreContract, RejoinAfterLeaveStartsAtCurrentLastSeq)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    fill(*store_, "lobby", 2);
    ASSERT_TRUE(store_->leave_room("lobby", "alice"));
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(store_->append_message(message("lobby", "bob", "b" + std::to_string(i))));
    }
    auto joined = value_of(store_->join_room("lobby", connection("c1", "alice"), now_ms));
    EXPECT_EQ(joined.last_seq, 5);
    EXPECT_EQ(summary_of(value_of(store_->list_rooms("alice", now_s)), "lobby").last_read_seq, 5);
}

// --- remove_connection and presence ------------------------------------------

TEST_P(StoreContract, RemoveConnectionReportsRoomsWhereUserIsNowOffline)
{
    put_and_join(*store_, "r1", connection("c1", "alice"));
    put_and_join(*store_, "r2", connection("c1", "alice"));
    put_and_join(*store_, "r2", connection("c2", "alice"));
    put_and_join(*store_, "r3", connection("c1", "alice"));
    put_and_join(*store_, "r3", connection("c3", "bob"));

    auto removed = value_of(store_->remove_connection("c1"));
    ASSERT_TRUE(removed.connection.has_value());
    // r2 still has alice's c2; in r3 bob's presence is irrelevant to alice.
    EXPECT_EQ(sorted(removed.rooms_now_offline), (std::vector<std::string>{"r1", "r3"}));

    EXPECT_TRUE(value_of(store_->subscribers("r1", now_s)).empty());
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("r2", now_s))), (std::vector<std::string>{"c2"}));
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("r3", now_s))), (std::vector<std::string>{"c3"}));
    // Membership belongs to the user and survives the disconnect.
    EXPECT_TRUE(value_of(store_->is_member("r1", "alice")));
}

TEST_P(StoreContract, RemoveLastConnectionThenRejoinIsNotAlreadyOnline)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    ASSERT_TRUE(store_->remove_connection("c1"));
    auto joined = put_and_join(*store_, "lobby", connection("c2", "alice"));
    EXPECT_FALSE(joined.user_was_online);
    EXPECT_FALSE(joined.created);
}

// --- subscribers -----------------------------------------------------------------

TEST_P(StoreContract, SubscribersOnlyReturnThatRoomsLiveConnections)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    put_and_join(*store_, "lobby", connection("c2", "bob", now_s + 10));
    put_and_join(*store_, "other", connection("c3", "carol"));

    auto list = value_of(store_->subscribers("lobby", now_s));
    EXPECT_EQ(connection_ids(list), (std::vector<std::string>{"c1", "c2"}));
    for (auto const& s : list) {
        EXPECT_EQ(s.user.name, "name of " + s.user.user_id);
    }
    // Once bob's record expires he drops out of the fan-out list.
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("lobby", now_s + 10))),
              (std::vector<std::string>{"c1"}));
    EXPECT_EQ(connection_ids(value_of(store_->subscribers("other", now_s))),
              (std::vector<std::string>{"c3"}));
}

TEST_P(StoreContract, SubscribersOfUnknownRoomIsEmpty)
{
    EXPECT_TRUE(value_of(store_->subscribers("nowhere", now_s)).empty());
}

TEST_P(StoreContract, SubscribersCarryTheSubscribersIdentity)
{
    auto c = connection("c1", "alice");
    c.user.name = "Alice 🦊 O'Brien";
    put_and_join(*store_, "lobby", c);
    auto list = value_of(store_->subscribers("lobby", now_s));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].user, c.user);
}

// --- list_rooms ------------------------------------------------------------------

TEST_P(StoreContract, ListRoomsOfEmptyStoreIsEmpty)
{
    EXPECT_TRUE(value_of(store_->list_rooms("alice", now_s)).empty());
}

TEST_P(StoreContract, ListRoomsCountsDistinctLiveUsersAndShowsMembership)
{
    put_and_join(*store_, "b-room", connection("c3", "bob"));
    put_and_join(*store_, "a-room", connection("c1", "alice"));
    put_and_join(*store_, "a-room", connection("c2", "alice"));
    put_and_join(*store_, "a-room", connection("c4", "bob"));
    // carol joined while live, and her record has expired since.
    auto const carol = connection("c5", "carol", now_s);
    expect_ok(store_->put_connection(carol));
    ASSERT_TRUE(store_->join_room("a-room", carol, now_ms - 5000));
    // c-room exists only through its messages.
    ASSERT_TRUE(store_->append_message(message("c-room", "dave", "d1")));
    fill(*store_, "a-room", 3);
    ASSERT_EQ(value_of(store_->mark_read("a-room", "alice", 2)), 2);

    auto rooms = value_of(store_->list_rooms("alice", now_s));
    ASSERT_EQ(rooms.size(), 3u);
    EXPECT_EQ(rooms[0].room, "a-room");
    EXPECT_EQ(rooms[1].room, "b-room");
    EXPECT_EQ(rooms[2].room, "c-room");

    EXPECT_EQ(rooms[0].online, 2) << "alice twice and bob once; carol expired";
    EXPECT_TRUE(rooms[0].member);
    EXPECT_EQ(rooms[0].last_seq, 3);
    EXPECT_EQ(rooms[0].last_read_seq, 2);

    EXPECT_EQ(rooms[1].online, 1);
    EXPECT_FALSE(rooms[1].member);
    EXPECT_EQ(rooms[1].last_read_seq, 0);

    EXPECT_EQ(rooms[2].online, 0);
    EXPECT_FALSE(rooms[2].member);
    EXPECT_EQ(rooms[2].last_seq, 1);

    // carol is still a member although offline.
    auto for_carol = value_of(store_->list_rooms("carol", now_s));
    EXPECT_TRUE(summary_of(for_carol, "a-room").member);
}

// --- append ----------------------------------------------------------------------

TEST_P(StoreContract, AppendAssignsSeqPerRoom)
{
    for (std::int64_t i = 1; i <= 3; ++i) {
        auto a = value_of(store_->append_message(message("a", "alice", "a" + std::to_string(i))));
        EXPECT_EQ(a.message.seq, i);
        EXPECT_FALSE(a.duplicate);
    }
    auto b = value_of(store_->append_message(message("b", "alice", "b1")));
    EXPECT_EQ(b.message.seq, 1) << "rooms count independently";
    EXPECT_EQ(value_of(store_->last_seq("a")), 3);
    EXPECT_EQ(value_of(store_->last_seq("b")), 1);
}

TEST_P(StoreContract, AppendStoresEveryField)
{
    auto const m = message("lobby", "alice", "cm-1", "hi there", now_ms + 123);
    auto appended = value_of(store_->append_message(m));
    EXPECT_EQ(appended.message.room, "lobby");
    EXPECT_EQ(appended.message.seq, 1);
    EXPECT_EQ(appended.message.id, m.id);
    EXPECT_EQ(appended.message.from, m.from);
    EXPECT_EQ(appended.message.text, m.text);
    EXPECT_EQ(appended.message.ts_ms, m.ts_ms);
    EXPECT_EQ(appended.message.client_msg_id, m.client_msg_id);

    auto page = value_of(store_->history(newest("lobby", 10)));
    ASSERT_EQ(page.messages.size(), 1u);
    auto const& stored = page.messages[0];
    EXPECT_EQ(stored.room, "lobby");
    EXPECT_EQ(stored.seq, 1);
    EXPECT_EQ(stored.id, m.id);
    EXPECT_EQ(stored.from, m.from);
    EXPECT_EQ(stored.text, m.text);
    EXPECT_EQ(stored.ts_ms, m.ts_ms);
    EXPECT_EQ(stored.client_msg_id, m.client_msg_id);
}

TEST_P(StoreContract, RetryReturnsTheOriginalAsDuplicate)
{
    auto const original = message("lobby", "alice", "cm-1", "first");
    auto first = value_of(store_->append_message(original));
    ASSERT_FALSE(first.duplicate);
    fill(*store_, "other", 1);

    // The retry differs in id, text and time: the stored original wins.
    auto retry = message("lobby", "alice", "cm-1", "second", now_ms + 5000);
    auto second = value_of(store_->append_message(retry));
    EXPECT_TRUE(second.duplicate);
    EXPECT_EQ(second.message.seq, first.message.seq);
    EXPECT_EQ(second.message.id, original.id);
    EXPECT_EQ(second.message.text, "first");
    EXPECT_EQ(second.message.ts_ms, original.ts_ms);

    EXPECT_EQ(value_of(store_->last_seq("lobby")), 1);
    auto page = value_of(store_->history(newest("lobby", 10)));
    EXPECT_EQ(seqs_of(page), (std::vector<std::int64_t>{1}));
}

TEST_P(StoreContract, ExpiredDedupeRecordNoLongerDedupes)
{
    // The record lives while expires_at_s > ts_ms / 1000.
    auto first =
        value_of(store_->append_message(message("lobby", "alice", "cm-1", "one", now_ms, now_s + 100)));
    auto within =
        value_of(store_->append_message(message("lobby", "alice", "cm-1", "x", (now_s + 99) * 1000 + 999)));
    EXPECT_TRUE(within.duplicate);
    EXPECT_EQ(within.message.seq, first.message.seq);

    auto later = value_of(
        store_->append_message(message("lobby", "alice", "cm-1", "two", (now_s + 100) * 1000, now_s + 1000)));
    EXPECT_FALSE(later.duplicate);
    EXPECT_EQ(later.message.seq, 2);
    EXPECT_EQ(later.message.text, "two");

    // The new record replaced the old one.
    auto retry =
        value_of(store_->append_message(message("lobby", "alice", "cm-1", "y", (now_s + 101) * 1000)));
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(retry.message.seq, 2);
    EXPECT_EQ(retry.message.text, "two");
    EXPECT_EQ(value_of(store_->last_seq("lobby")), 2);
}

TEST_P(StoreContract, ClientMsgIdReusedInAnotherRoomConflicts)
{
    put_and_join(*store_, "b", connection("c1", "alice"));
    ASSERT_TRUE(store_->append_message(message("a", "alice", "cm-1")));
    expect_error(store_->append_message(message("b", "alice", "cm-1")), errc::conflict);
    EXPECT_EQ(value_of(store_->last_seq("b")), 0) << "a conflict writes nothing";
    EXPECT_TRUE(value_of(store_->history(newest("b", 10))).messages.empty());
    EXPECT_EQ(value_of(store_->last_seq("a")), 1);
}

TEST_P(StoreContract, SameClientMsgIdFromTwoUsersIsIndependent)
{
    auto alice = value_of(store_->append_message(message("lobby", "alice", "cm-1", "from alice")));
    auto bob = value_of(store_->append_message(message("lobby", "bob", "cm-1", "from bob")));
    EXPECT_FALSE(bob.duplicate);
    EXPECT_EQ(alice.message.seq, 1);
    EXPECT_EQ(bob.message.seq, 2);
    // A third user may use it in another room: the key is (user, clientMsgId).
    auto carol = value_of(store_->append_message(message("other", "carol", "cm-1")));
    EXPECT_FALSE(carol.duplicate);
}

TEST_P(StoreContract, ConcurrentAppendsAreGapFreeAndInOrderPerSender)
{
    constexpr int threads = 8;
    constexpr int per_thread = 50;
    std::vector<std::vector<std::int64_t>> seqs(threads);
    std::vector<int> failures(threads, 0);
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                auto const tag = std::to_string(t) + "-" + std::to_string(i);
                auto appended =
                    store_->append_message(message("busy", "user" + std::to_string(t), tag, "text " + tag));
                if (appended && !appended->duplicate) {
                    seqs[static_cast<std::size_t>(t)].push_back(appended->message.seq);
                } else {
                    ++failures[static_cast<std::size_t>(t)];
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }

    std::vector<std::int64_t> all;
    for (int t = 0; t < threads; ++t) {
        auto const& own = seqs[static_cast<std::size_t>(t)];
        EXPECT_EQ(failures[static_cast<std::size_t>(t)], 0) << "thread " << t;
        EXPECT_TRUE(std::is_sorted(own.begin(), own.end()) &&
                    std::adjacent_find(own.begin(), own.end()) == own.end())
            << "thread " << t << " saw its seqs out of order";
        all.insert(all.end(), own.begin(), own.end());
    }
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, range(1, threads * per_thread));
    EXPECT_EQ(value_of(store_->last_seq("busy")), threads * per_thread);

    // Each message is stored once, at the seq its sender was told.
    std::vector<stored_message> stored;
    for (std::int64_t position = 0;;) {
        auto page = value_of(store_->history(after("busy", position, 100)));
        stored.insert(stored.end(), page.messages.begin(), page.messages.end());
        if (!page.has_more || page.messages.empty()) {
            break;
        }
        position = page.messages.back().seq;
    }
    ASSERT_EQ(stored.size(), static_cast<std::size_t>(threads * per_thread));
    for (auto const& m : stored) {
        auto const t = std::stoi(m.from.user_id.substr(4));
        auto const i = std::stoi(m.client_msg_id.substr(m.client_msg_id.find('-') + 1));
        ASSERT_LT(static_cast<std::size_t>(i), seqs[static_cast<std::size_t>(t)].size());
        EXPECT_EQ(seqs[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)], m.seq) << m.client_msg_id;
        EXPECT_EQ(m.text, "text " + m.client_msg_id);
    }
}

TEST_P(StoreContract, ConcurrentRetriesOfOneClientMsgIdStoreOneMessage)
{
    constexpr int threads = 8;
    constexpr int rounds = 20;
    struct outcome {
        std::int64_t seq = 0;
        bool duplicate = false;
        bool ok = false;
    };
    std::vector<std::vector<outcome>> outcomes(threads, std::vector<outcome>(rounds));
    std::latch start(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            start.arrive_and_wait();
            for (int r = 0; r < rounds; ++r) {
                auto appended = store_->append_message(
                    message("retry", "alice", "cm-" + std::to_string(r), "attempt by " + std::to_string(t)));
                auto& o = outcomes[static_cast<std::size_t>(t)][static_cast<std::size_t>(r)];
                o.ok = appended.has_value();
                if (appended) {
                    o.seq = appended->message.seq;
                    o.duplicate = appended->duplicate;
                }
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }

    std::set<std::int64_t> seqs;
    for (int r = 0; r < rounds; ++r) {
        int originals = 0;
        std::set<std::int64_t> round_seqs;
        for (int t = 0; t < threads; ++t) {
            auto const& o = outcomes[static_cast<std::size_t>(t)][static_cast<std::size_t>(r)];
            EXPECT_TRUE(o.ok);
            originals += o.duplicate ? 0 : 1;
            round_seqs.insert(o.seq);
        }
        EXPECT_EQ(originals, 1) << "round " << r;
        EXPECT_EQ(round_seqs.size(), 1u) << "round " << r << ": every retry gets the same seq";
        seqs.insert(round_seqs.begin(), round_seqs.end());
    }
    EXPECT_EQ(seqs.size(), static_cast<std::size_t>(rounds));
    EXPECT_EQ(value_of(store_->last_seq("retry")), rounds);
    auto page = value_of(store_->history(newest("retry", 100)));
    EXPECT_EQ(seqs_of(page), range(1, rounds));
}

// --- history ---------------------------------------------------------------------

TEST_P(StoreContract, HistoryPagingForwardReturnsEverythingOnce)
{
    fill(*store_, "long", 250);
    std::vector<std::int64_t> got;
    std::vector<bool> more;
    for (std::int64_t position = 0;;) {
        auto page = value_of(store_->history(after("long", position, 100)));
        auto const seqs = seqs_of(page);
        got.insert(got.end(), seqs.begin(), seqs.end());
        more.push_back(page.has_more);
        if (!page.has_more || page.messages.empty() || more.size() > 10) {
            break;
        }
        position = page.messages.back().seq;
    }
    EXPECT_EQ(got, range(1, 250));
    EXPECT_EQ(more, (std::vector<bool>{true, true, false}));
}

TEST_P(StoreContract, HistoryPagingBackwardReturnsEverythingOnce)
{
    fill(*store_, "long", 250);
    auto first = value_of(store_->history(newest("long", 100)));
    EXPECT_EQ(seqs_of(first), range(151, 250));
    EXPECT_TRUE(first.has_more);

    std::vector<std::int64_t> got = seqs_of(first);
    std::vector<bool> more{first.has_more};
    for (auto page = first; page.has_more && !page.messages.empty() && more.size() <= 10;) {
        page = value_of(store_->history(before("long", page.messages.front().seq, 100)));
        auto const seqs = seqs_of(page);
        got.insert(got.begin(), seqs.begin(), seqs.end());
        more.push_back(page.has_more);
    }
    EXPECT_EQ(got, range(1, 250));
    EXPECT_EQ(more, (std::vector<bool>{true, true, false}));
}

TEST_P(StoreContract, HistoryHasMoreAtExactPageBoundaries)
{
    fill(*store_, "room", 200);
    auto tail = value_of(store_->history(after("room", 100, 100)));
    EXPECT_EQ(seqs_of(tail), range(101, 200));
    EXPECT_FALSE(tail.has_more) << "exactly `limit` left is not more";

    auto head = value_of(store_->history(before("room", 101, 100)));
    EXPECT_EQ(seqs_of(head), range(1, 100));
    EXPECT_FALSE(head.has_more);

    auto almost = value_of(store_->history(before("room", 102, 100)));
    EXPECT_EQ(seqs_of(almost), range(2, 101));
    EXPECT_TRUE(almost.has_more);

    auto all = value_of(store_->history(newest("room", 200)));
    EXPECT_EQ(seqs_of(all), range(1, 200));
    EXPECT_FALSE(all.has_more);

    auto end = value_of(store_->history(after("room", 200, 100)));
    EXPECT_TRUE(end.messages.empty());
    EXPECT_FALSE(end.has_more);
}

TEST_P(StoreContract, HistoryWithLimitOne)
{
    fill(*store_, "room", 3);
    auto first = value_of(store_->history(after("room", 0, 1)));
    EXPECT_EQ(seqs_of(first), (std::vector<std::int64_t>{1}));
    EXPECT_TRUE(first.has_more);

    auto last = value_of(store_->history(after("room", 2, 1)));
    EXPECT_EQ(seqs_of(last), (std::vector<std::int64_t>{3}));
    EXPECT_FALSE(last.has_more);

    auto newest_one = value_of(store_->history(newest("room", 1)));
    EXPECT_EQ(seqs_of(newest_one), (std::vector<std::int64_t>{3}));
    EXPECT_TRUE(newest_one.has_more);

    auto oldest = value_of(store_->history(before("room", 2, 1)));
    EXPECT_EQ(seqs_of(oldest), (std::vector<std::int64_t>{1}));
    EXPECT_FALSE(oldest.has_more);

    auto none = value_of(store_->history(before("room", 1, 1)));
    EXPECT_TRUE(none.messages.empty());
    EXPECT_FALSE(none.has_more);
}

TEST_P(StoreContract, HistoryDoesNotMixRooms)
{
    fill(*store_, "a", 5);
    ASSERT_TRUE(store_->append_message(message("b", "bob", "b1", "in b")));
    auto page = value_of(store_->history(after("b", 0, 100)));
    ASSERT_EQ(page.messages.size(), 1u);
    EXPECT_EQ(page.messages[0].text, "in b");
    EXPECT_EQ(seqs_of(value_of(store_->history(after("a", 0, 100)))), range(1, 5));
}

TEST_P(StoreContract, HistoryOfUnknownRoomIsEmpty)
{
    for (auto const& query : {after("nowhere", 0, 50), before("nowhere", 10, 50), newest("nowhere", 50)}) {
        auto page = value_of(store_->history(query));
        EXPECT_TRUE(page.messages.empty());
        EXPECT_FALSE(page.has_more);
    }
}

// --- mark_read and last_seq ------------------------------------------------------

TEST_P(StoreContract, MarkReadRaisesClampsAndNeverLowers)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    fill(*store_, "lobby", 5);
    EXPECT_EQ(value_of(store_->mark_read("lobby", "alice", 3)), 3);
    EXPECT_EQ(value_of(store_->mark_read("lobby", "alice", 2)), 3) << "never lowers";
    EXPECT_EQ(value_of(store_->mark_read("lobby", "alice", 99)), 5) << "clamped to last_seq";
    EXPECT_EQ(value_of(store_->mark_read("lobby", "alice", -1)), 5);
    EXPECT_EQ(summary_of(value_of(store_->list_rooms("alice", now_s)), "lobby").last_read_seq, 5);
}

TEST_P(StoreContract, MarkReadByNonMemberFails)
{
    put_and_join(*store_, "lobby", connection("c1", "alice"));
    expect_error(store_->mark_read("lobby", "bob", 1), errc::not_member);
    expect_error(store_->mark_read("nowhere", "alice", 1), errc::not_member);
}

TEST_P(StoreContract, LastSeqOfUnknownRoomIsNotFound)
{
    expect_error(store_->last_seq("nowhere"), errc::not_found);
    EXPECT_FALSE(value_of(store_->is_member("nowhere", "alice")));
}

// --- round trips -----------------------------------------------------------------

TEST_P(StoreContract, TextRoundTripsByteExactly)
{
    std::string const tricky =
        std::string(
            "héllo 世界 🎉👩‍👩‍👧 \n\"double\" 'single' `back` \\ \t\r\n%s %d ? ?1 :x ") +
        std::string("\0after-nul", 10) + "\x7f end";
    std::string const big(30000, 'x');
    std::string const room = "room 'quoted'; DROP TABLE messages; --";
    put_and_join(*store_, room, connection("c1", "alice"));

    auto m1 = message(room, "alice", "cm-ü-1", tricky);
    m1.from.name = "Ålice \"the\" 🦊";
    auto m2 = message(room, "alice", "cm-2", big);
    ASSERT_TRUE(store_->append_message(m1));
    ASSERT_TRUE(store_->append_message(m2));
    auto m3 = message(room, "alice", "cm-3", "");
    ASSERT_TRUE(store_->append_message(m3));

    auto page = value_of(store_->history(after(room, 0, 10)));
    ASSERT_EQ(page.messages.size(), 3u);
    EXPECT_EQ(page.messages[0].text, tricky);
    EXPECT_EQ(page.messages[0].text.size(), tricky.size());
    EXPECT_EQ(page.messages[0].from.name, m1.from.name);
    EXPECT_EQ(page.messages[0].client_msg_id, "cm-ü-1");
    EXPECT_EQ(page.messages[0].room, room);
    EXPECT_EQ(page.messages[1].text, big);
    EXPECT_EQ(page.messages[2].text, "");

    auto retry = value_of(store_->append_message(m1));
    EXPECT_TRUE(retry.duplicate);
    EXPECT_EQ(retry.message.text, tricky);
    EXPECT_EQ(value_of(store_->last_seq(room)), 3);
    EXPECT_TRUE(value_of(store_->is_member(room, "alice")));
}

} // namespace stratus::contract
