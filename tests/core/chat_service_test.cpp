#include "core/chat_service.hpp"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/memory/memory_store.hpp"
#include "core/handler.hpp"
#include "fakes/fake_clock.hpp"
#include "fakes/fake_token_verifier.hpp"
#include "fakes/recording_pusher.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

/// A store that fails chosen operations, around the memory store.
class failing_store final : public store {
public:
    explicit failing_store(store& inner) : inner_(inner) {}
    bool fail_append = false;
    bool fail_subscribers = false;
    bool fail_remove = false;
    std::atomic<int> get_connection_calls{0};

    result<void> put_connection(connection_record const& r) override { return inner_.put_connection(r); }
    result<std::optional<connection_record>> get_connection(std::string_view id, std::int64_t now) override
    {
        ++get_connection_calls;
        return inner_.get_connection(id, now);
    }
    result<removal_result> remove_connection(std::string_view id) override
    {
        if (fail_remove) {
            return fail(errc::unavailable, "injected remove failure");
        }
        return inner_.remove_connection(id);
    }
    result<join_result> join_room(std::string_view room, connection_record const& c,
                                  std::int64_t now) override
    {
        return inner_.join_room(room, c, now);
    }
    result<leave_result> leave_room(std::string_view room, std::string_view user) override
    {
        return inner_.leave_room(room, user);
    }
    result<bool> is_member(std::string_view room, std::string_view user) override
    {
        return inner_.is_member(room, user);
    }
    result<std::vector<subscriber>> subscribers(std::string_view room, std::int64_t now) override
    {
        if (fail_subscribers) {
            return fail(errc::unavailable, "injected");
        }
        return inner_.subscribers(room, now);
    }
    result<std::vector<room_summary>> list_rooms(std::string_view user, std::int64_t now) override
    {
        return inner_.list_rooms(user, now);
    }
    result<append_result> append_message(new_message const& m) override
    {
        if (fail_append) {
            return fail(errc::unavailable, "disk I/O error (injected)");
        }
        return inner_.append_message(m);
    }
    result<history_page> history(history_query const& q) override { return inner_.history(q); }
    result<std::int64_t> mark_read(std::string_view room, std::string_view user, std::int64_t seq) override
    {
        return inner_.mark_read(room, user, seq);
    }
    result<std::int64_t> last_seq(std::string_view room) override { return inner_.last_seq(room); }

private:
    store& inner_;
};

class ChatService : public ::testing::Test {
protected:
    memory_store memory;
    failing_store store{memory};
    testing::recording_pusher pusher;
    testing::fake_clock clock;
    testing::fake_token_verifier verifier;
    chat_service service{store, pusher, clock, verifier};
    stratus::handler handler{service};
    stratus::handler* active = &handler; // a derived fixture may route to another service
    std::atomic<int> request_counter{0};

    json context(std::string const& id, std::string const& route, std::string const& type)
    {
        return json{{"routeKey", route},
                    {"eventType", type},
                    {"connectionId", id},
                    {"requestId", "req" + std::to_string(++request_counter)},
                    {"connectedAt", clock.now_ms()},
                    {"requestTimeEpoch", clock.now_ms()},
                    {"stage", "local"},
                    {"identity", {{"sourceIp", "127.0.0.1"}}}};
    }

    json invoke(json const& event)
    {
        auto response = active->handle(event.dump());
        EXPECT_TRUE(response.has_value()) << (response ? "" : response.error().detail);
        return response ? json::parse(*response) : json{};
    }

    int connect(std::string const& id, std::string const& token)
    {
        json event{{"requestContext", context(id, "$connect", "CONNECT")}, {"isBase64Encoded", false}};
        if (!token.empty()) {
            event["queryStringParameters"] = {{"token", token}};
        }
        return invoke(event)["statusCode"].get<int>();
    }

    void disconnect(std::string const& id)
    {
        auto ctx = context(id, "$disconnect", "DISCONNECT");
        ctx["disconnectStatusCode"] = 1001;
        invoke(json{{"requestContext", ctx}});
    }

    /// Sends a frame on `route` and returns the reply body (null when none).
    json send(std::string const& id, std::string const& route, json const& body)
    {
        auto response =
            invoke(json{{"requestContext", context(id, route, "MESSAGE")}, {"body", body.dump()}});
        if (!response.contains("body")) {
            return nullptr;
        }
        return json::parse(response["body"].get<std::string>());
    }

    json action(std::string const& id, json body)
    {
        auto const route = body["action"].get<std::string>();
        return send(id, route, body);
    }

    std::vector<json> frames_to(std::string const& id)
    {
        std::vector<json> out;
        for (auto const& payload : pusher.to(id)) {
            out.push_back(json::parse(payload));
        }
        return out;
    }

    std::vector<json> frames_of_type(std::string const& id, std::string const& type)
    {
        std::vector<json> out;
        for (auto& f : frames_to(id)) {
            if (f["type"] == type) {
                out.push_back(f);
            }
        }
        return out;
    }

    json say(std::string const& id, std::string const& room, std::string const& text, std::string const& cmid)
    {
        return action(id, {{"action", "sendMessage"}, {"room", room}, {"text", text}, {"clientMsgId", cmid}});
    }

    void alice_and_bob_in(std::string const& room)
    {
        ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
        ASSERT_EQ(connect("B1", "user:bob:Bob"), 200);
        ASSERT_EQ(action("A1", {{"action", "joinRoom"}, {"room", room}})["type"], "joined");
        ASSERT_EQ(action("B1", {{"action", "joinRoom"}, {"room", room}})["type"], "joined");
        pusher.clear();
    }
};

TEST_F(ChatService, ConnectWithoutTokenIsRefusedAndStoresNothing)
{
    EXPECT_EQ(connect("C1", ""), 401);
    EXPECT_FALSE(memory.get_connection("C1", 0)->has_value());
}

TEST_F(ChatService, ConnectWithBadTokenIsRefused)
{
    EXPECT_EQ(connect("C1", "forged"), 401);
    EXPECT_FALSE(memory.get_connection("C1", 0)->has_value());
}

TEST_F(ChatService, ConnectStoresTheVerifiedIdentity)
{
    ASSERT_EQ(connect("C1", "user:alice:Alice"), 200);
    auto record = memory.get_connection("C1", clock.now_ms() / 1000);
    ASSERT_TRUE(record && *record);
    EXPECT_EQ((*record)->user.user_id, "alice");
    EXPECT_EQ((*record)->user.name, "Alice");
    EXPECT_GT((*record)->expires_at_s, clock.now_ms() / 1000 + 7200);
}

TEST_F(ChatService, JoinRepliesWithOnlineMembersAndAnnouncesPresenceToOthers)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    ASSERT_EQ(connect("B1", "user:bob:Bob"), 200);
    action("A1", {{"action", "joinRoom"}, {"room", "general"}});
    auto joined = action("B1", {{"action", "joinRoom"}, {"room", "general"}});
    EXPECT_EQ(joined["type"], "joined");
    EXPECT_EQ(joined["room"], "general");
    EXPECT_EQ(joined["lastSeq"], 0);
    EXPECT_EQ(joined["members"].size(), 2U);
    auto presence = frames_of_type("A1", "presence");
    ASSERT_EQ(presence.size(), 1U);
    EXPECT_EQ(presence[0]["user"]["userId"], "bob");
    EXPECT_EQ(presence[0]["state"], "online");
    EXPECT_TRUE(frames_of_type("B1", "presence").empty());
}

TEST_F(ChatService, SendAcksWithConsecutiveSeqAndReachesEverySubscriberIncludingTheSender)
{
    alice_and_bob_in("general");
    auto ack1 = say("A1", "general", "hello", "m1");
    auto ack2 = say("B1", "general", "hi alice", "m2");
    EXPECT_EQ(ack1["type"], "ack");
    EXPECT_EQ(ack1["seq"], 1);
    EXPECT_EQ(ack1["clientMsgId"], "m1");
    EXPECT_EQ(ack2["seq"], 2);
    for (auto const* id : {"A1", "B1"}) {
        auto messages = frames_of_type(id, "message");
        ASSERT_EQ(messages.size(), 2U) << id;
        EXPECT_EQ(messages[0]["seq"], 1);
        EXPECT_EQ(messages[0]["text"], "hello");
        EXPECT_EQ(messages[0]["from"]["userId"], "alice");
        EXPECT_EQ(messages[0]["from"]["name"], "Alice");
        EXPECT_EQ(messages[0]["id"], ack1["id"]);
        EXPECT_EQ(messages[1]["seq"], 2);
    }
}

TEST_F(ChatService, RetriedClientMsgIdReturnsTheFirstSeqAndIsNotDeliveredAgain)
{
    alice_and_bob_in("general");
    auto first = say("A1", "general", "once", "retry-1");
    auto again = say("A1", "general", "once", "retry-1");
    EXPECT_EQ(first["seq"], again["seq"]);
    EXPECT_EQ(first["id"], again["id"]);
    EXPECT_EQ(frames_of_type("B1", "message").size(), 1U);
    EXPECT_EQ(*memory.last_seq("general"), 1);
}

TEST_F(ChatService, IdentityComesFromTheConnectionNotTheBody)
{
    alice_and_bob_in("general");
    action("A1", {{"action", "sendMessage"},
                  {"room", "general"},
                  {"text", "spoof"},
                  {"clientMsgId", "s1"},
                  {"from", {{"userId", "bob"}, {"name", "Bob"}}},
                  {"userId", "bob"}});
    auto messages = frames_of_type("B1", "message");
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0]["from"]["userId"], "alice");
}

TEST_F(ChatService, NonMembersCannotSendReadOrType)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    EXPECT_EQ(say("A1", "secret", "hi", "x1")["code"], "not_member");
    EXPECT_EQ(action("A1", {{"action", "getHistory"}, {"room", "secret"}})["code"], "not_member");
    EXPECT_EQ(action("A1", {{"action", "typing"}, {"room", "secret"}})["code"], "not_member");
    EXPECT_EQ(action("A1", {{"action", "markRead"}, {"room", "secret"}, {"seq", 1}})["code"], "not_member");
}

TEST_F(ChatService, GonePushDeletesThatConnectionAndTheFanOutContinues)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    ASSERT_EQ(connect("B1", "user:bob:Bob"), 200);
    ASSERT_EQ(connect("C1", "user:carol:Carol"), 200);
    for (auto const* id : {"A1", "B1", "C1"}) {
        action(id, {{"action", "joinRoom"}, {"room", "general"}});
    }
    pusher.clear();
    pusher.mark_gone("B1");
    auto ack = say("A1", "general", "who is here?", "g1");
    EXPECT_EQ(ack["type"], "ack");
    // B1 (the stale one) is deleted, not the sender.
    EXPECT_FALSE(memory.get_connection("B1", 0)->has_value());
    EXPECT_TRUE(memory.get_connection("A1", 0)->has_value());
    EXPECT_EQ(frames_of_type("C1", "message").size(), 1U);
    EXPECT_EQ(frames_of_type("A1", "message").size(), 1U);
    // The others learn that bob went offline; bob is never pushed to again.
    auto offline = frames_of_type("C1", "presence");
    ASSERT_EQ(offline.size(), 1U);
    EXPECT_EQ(offline[0]["user"]["userId"], "bob");
    EXPECT_EQ(offline[0]["state"], "offline");
    say("A1", "general", "again", "g2");
    EXPECT_EQ(pusher.gone_pushes("B1"), 1);
}

TEST_F(ChatService, AGoneConnectionIsPushedToAtMostOnceEvenWhileItsRecordRemains)
{
    for (auto const* who : {"A1:alice", "B1:bob", "C1:carol"}) {
        std::string const s = who;
        auto const id = s.substr(0, 2);
        auto const user = s.substr(3);
        ASSERT_EQ(connect(id, "user:" + user + ":" + user), 200);
        action(id, {{"action", "joinRoom"}, {"room", "general"}});
    }
    pusher.clear();
    pusher.mark_gone("B1");
    store.fail_remove = true; // the cleanup fails: B1's record stays in the store
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(say("A1", "general", "m" + std::to_string(i), "c" + std::to_string(i))["type"], "ack");
    }
    EXPECT_EQ(pusher.gone_pushes("B1"), 1) << "pushed to a known-dead connection again";
    EXPECT_TRUE(memory.get_connection("B1", 0)->has_value());
    // Once the store works again the next fan-out still cleans the record up, without a push.
    store.fail_remove = false;
    say("A1", "general", "later", "c9");
    EXPECT_FALSE(memory.get_connection("B1", 0)->has_value());
    EXPECT_EQ(pusher.gone_pushes("B1"), 1);
    EXPECT_EQ(frames_of_type("C1", "message").size(), 6U);
}

TEST_F(ChatService, AfterDisconnectStartsNoFanOutPushesToThatConnection)
{
    alice_and_bob_in("general");
    store.fail_remove = true; // $disconnect cannot delete the record (store down)
    disconnect("B1");
    say("A1", "general", "anyone?", "d1");
    EXPECT_TRUE(pusher.to("B1").empty()) << "a closed connection was pushed to";
    store.fail_remove = false;
}

TEST_F(ChatService, DisconnectAnnouncesOfflineOnlyWhenTheUsersLastConnectionLeaves)
{
    alice_and_bob_in("general");
    ASSERT_EQ(connect("A2", "user:alice:Alice"), 200);
    action("A2", {{"action", "joinRoom"}, {"room", "general"}});
    EXPECT_TRUE(frames_of_type("B1", "presence").empty()) << "second device is not news";
    disconnect("A1");
    EXPECT_TRUE(frames_of_type("B1", "presence").empty());
    disconnect("A2");
    auto presence = frames_of_type("B1", "presence");
    ASSERT_EQ(presence.size(), 1U);
    EXPECT_EQ(presence[0]["state"], "offline");
    EXPECT_FALSE(memory.get_connection("A2", 0)->has_value());
}

TEST_F(ChatService, DisconnectOfAnUnknownConnectionIsHarmless)
{
    disconnect("nobody");
    SUCCEED();
}

TEST_F(ChatService, LeaveRoomEndsMembershipTellsOtherDevicesAndTheRoom)
{
    alice_and_bob_in("general");
    ASSERT_EQ(connect("A2", "user:alice:Alice"), 200);
    action("A2", {{"action", "joinRoom"}, {"room", "general"}});
    auto left = action("A1", {{"action", "leaveRoom"}, {"room", "general"}});
    EXPECT_EQ(left["type"], "left");
    EXPECT_EQ(frames_of_type("A2", "left").size(), 1U);
    auto presence = frames_of_type("B1", "presence");
    ASSERT_EQ(presence.size(), 1U);
    EXPECT_EQ(presence[0]["state"], "offline");
    EXPECT_EQ(say("A2", "general", "still here?", "l1")["code"], "not_member");
    EXPECT_EQ(action("A1", {{"action", "leaveRoom"}, {"room", "general"}})["code"], "not_member");
}

TEST_F(ChatService, TypingReachesOthersButNotTheTypist)
{
    alice_and_bob_in("general");
    ASSERT_EQ(connect("A2", "user:alice:Alice"), 200);
    action("A2", {{"action", "joinRoom"}, {"room", "general"}});
    EXPECT_TRUE(action("A1", {{"action", "typing"}, {"room", "general"}}).is_null());
    EXPECT_EQ(frames_of_type("B1", "typing").size(), 1U);
    EXPECT_TRUE(frames_of_type("A2", "typing").empty());
}

TEST_F(ChatService, HistoryPagesForwardAndBackward)
{
    alice_and_bob_in("general");
    for (int i = 1; i <= 25; ++i) {
        say("A1", "general", "m" + std::to_string(i), "h" + std::to_string(i));
    }
    auto page = action("B1", {{"action", "getHistory"}, {"room", "general"}, {"after", 20}, {"limit", 3}});
    ASSERT_EQ(page["messages"].size(), 3U);
    EXPECT_EQ(page["messages"][0]["seq"], 21);
    EXPECT_TRUE(page["hasMore"]);
    page = action("B1", {{"action", "getHistory"}, {"room", "general"}, {"after", 23}, {"limit", 3}});
    EXPECT_EQ(page["messages"].size(), 2U);
    EXPECT_FALSE(page["hasMore"]);
    page = action("B1", {{"action", "getHistory"}, {"room", "general"}, {"before", 4}});
    ASSERT_EQ(page["messages"].size(), 3U);
    EXPECT_EQ(page["messages"][0]["seq"], 1);
    EXPECT_FALSE(page["hasMore"]);
    page = action("B1", {{"action", "getHistory"}, {"room", "general"}, {"limit", 5}});
    ASSERT_EQ(page["messages"].size(), 5U);
    EXPECT_EQ(page["messages"][4]["seq"], 25);
    EXPECT_TRUE(page["hasMore"]);
}

TEST_F(ChatService, ListRoomsShowsOnlineCountsAndUnread)
{
    alice_and_bob_in("general");
    say("A1", "general", "one", "u1");
    say("A1", "general", "two", "u2");
    auto rooms = action("B1", {{"action", "listRooms"}});
    ASSERT_EQ(rooms["rooms"].size(), 1U);
    EXPECT_EQ(rooms["rooms"][0]["lastSeq"], 2);
    EXPECT_EQ(rooms["rooms"][0]["online"], 2);
    EXPECT_EQ(rooms["rooms"][0]["unread"], 2);
    EXPECT_EQ(action("B1", {{"action", "markRead"}, {"room", "general"}, {"seq", 1}})["seq"], 1);
    rooms = action("B1", {{"action", "listRooms"}});
    EXPECT_EQ(rooms["rooms"][0]["unread"], 1);
}

TEST_F(ChatService, DefaultRouteListsTheValidActions)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    auto reply = send("A1", "$default", {{"action", "dance"}});
    EXPECT_EQ(reply["type"], "error");
    EXPECT_EQ(reply["code"], "invalid_request");
    EXPECT_EQ(reply["action"], "dance");
    EXPECT_EQ(reply["validActions"].size(), 8U);
    EXPECT_FALSE(reply["requestId"].get<std::string>().empty());
}

TEST_F(ChatService, BadFramesGetErrorFramesAndChangeNothing)
{
    alice_and_bob_in("general");
    struct bad_case {
        json body;
        char const* code;
    };
    std::vector<bad_case> const cases{
        {{{"action", "sendMessage"}, {"room", "general"}, {"clientMsgId", "x"}}, "invalid_request"},
        {{{"action", "sendMessage"}, {"room", "general"}, {"text", 5}, {"clientMsgId", "x"}},
         "invalid_request"},
        {{{"action", "sendMessage"}, {"room", "general"}, {"text", "   "}, {"clientMsgId", "x"}},
         "invalid_request"},
        {{{"action", "sendMessage"},
          {"room", "general"},
          {"text", std::string(4001, 'a')},
          {"clientMsgId", "x"}},
         "too_large"},
        {{{"action", "sendMessage"}, {"room", "general"}, {"text", "bell\a"}, {"clientMsgId", "x"}},
         "invalid_request"},
        {{{"action", "sendMessage"}, {"room", "general"}, {"text", "hi"}, {"clientMsgId", "has space"}},
         "invalid_request"},
        {{{"action", "sendMessage"}, {"room", "../etc"}, {"text", "hi"}, {"clientMsgId", "x"}},
         "invalid_request"},
        {{{"action", "joinRoom"}, {"room", ""}}, "invalid_request"},
        {{{"action", "joinRoom"}, {"room", std::string(65, 'r')}}, "invalid_request"},
        {{{"action", "joinRoom"}}, "invalid_request"},
        {{{"action", "getHistory"}, {"room", "general"}, {"limit", 0}}, "invalid_request"},
        {{{"action", "getHistory"}, {"room", "general"}, {"limit", 101}}, "invalid_request"},
        {{{"action", "getHistory"}, {"room", "general"}, {"after", -1}}, "invalid_request"},
        {{{"action", "getHistory"}, {"room", "general"}, {"after", 1.5}}, "invalid_request"},
        {{{"action", "getHistory"}, {"room", "general"}, {"after", 1}, {"before", 5}}, "invalid_request"},
        {{{"action", "markRead"}, {"room", "general"}}, "invalid_request"},
    };
    for (auto const& c : cases) {
        auto const route = c.body["action"].get<std::string>();
        auto reply = send("A1", route, c.body);
        EXPECT_EQ(reply["type"], "error") << c.body.dump();
        EXPECT_EQ(reply["code"], c.code) << c.body.dump();
        EXPECT_EQ(reply["action"], route);
        if (c.body.contains("clientMsgId") && c.body["clientMsgId"] == "x") {
            EXPECT_EQ(reply["clientMsgId"], "x") << "errors name the send they answer";
        }
    }
    // Not JSON at all, routed by the gateway to the action's route anyway.
    auto response =
        invoke(json{{"requestContext", context("A1", "sendMessage", "MESSAGE")}, {"body", "{nope"}});
    EXPECT_EQ(json::parse(response["body"].get<std::string>())["code"], "invalid_request");
    EXPECT_EQ(*memory.last_seq("general"), 0);
    EXPECT_TRUE(frames_of_type("B1", "message").empty());
}

TEST_F(ChatService, UnregisteredConnectionIsUnauthorized)
{
    EXPECT_EQ(action("ghost", {{"action", "ping"}})["code"], "unauthorized");
}

TEST_F(ChatService, PingPongs)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    EXPECT_EQ(action("A1", {{"action", "ping"}})["type"], "pong");
}

TEST_F(ChatService, StoreFailureBecomesAnInternalErrorFrameAndNothingIsDelivered)
{
    alice_and_bob_in("general");
    store.fail_append = true;
    auto response = invoke(
        json{{"requestContext", context("A1", "sendMessage", "MESSAGE")},
             {"body",
              json{{"action", "sendMessage"}, {"room", "general"}, {"text", "lost?"}, {"clientMsgId", "f1"}}
                  .dump()}});
    EXPECT_EQ(response["statusCode"], 500);
    auto body = json::parse(response["body"].get<std::string>());
    EXPECT_EQ(body["code"], "internal");
    EXPECT_EQ(body["message"].get<std::string>().find("injected"), std::string::npos)
        << "no store details leak";
    EXPECT_TRUE(frames_of_type("B1", "message").empty());
    store.fail_append = false;
    EXPECT_EQ(say("A1", "general", "retry works", "f1")["seq"], 1);
}

TEST_F(ChatService, FailedFanOutLookupStillAcksTheCommittedMessage)
{
    alice_and_bob_in("general");
    store.fail_subscribers = true;
    auto ack = say("A1", "general", "stored anyway", "s1");
    EXPECT_EQ(ack["type"], "ack");
    store.fail_subscribers = false;
    auto history = action("B1", {{"action", "getHistory"}, {"room", "general"}});
    EXPECT_EQ(history["messages"].size(), 1U);
}

TEST_F(ChatService, MalformedEventIsAnIntegrationFailure)
{
    EXPECT_FALSE(handler.handle("not json").has_value());
    EXPECT_FALSE(handler.handle(R"({"requestContext":{"routeKey":"$connect"}})").has_value());
    EXPECT_FALSE(
        handler.handle(R"({"requestContext":{"routeKey":1,"eventType":"MESSAGE","connectionId":"x"}})")
            .has_value());
    EXPECT_FALSE(handler.handle(std::string(100000, '[')).has_value());
}

TEST_F(ChatService, ConcurrentSendersProduceOneGapFreeOrderSeenIdenticallyByEverySubscriber)
{
    constexpr int senders = 8;
    constexpr int per_sender = 25;
    for (int s = 0; s < senders; ++s) {
        auto const id = "S" + std::to_string(s);
        ASSERT_EQ(connect(id, "user:u" + std::to_string(s) + ":User" + std::to_string(s)), 200);
        action(id, {{"action", "joinRoom"}, {"room", "busy"}});
    }
    ASSERT_EQ(connect("OBS", "user:obs:Observer"), 200);
    action("OBS", {{"action", "joinRoom"}, {"room", "busy"}});
    pusher.clear();

    std::vector<std::thread> threads;
    for (int s = 0; s < senders; ++s) {
        threads.emplace_back([this, s] {
            for (int i = 0; i < per_sender; ++i) {
                auto const id = "S" + std::to_string(s);
                auto const cmid = "c" + std::to_string(s) + "-" + std::to_string(i);
                json body{{"action", "sendMessage"}, {"room", "busy"}, {"text", cmid}, {"clientMsgId", cmid}};
                auto response = handler.handle(json{
                    {"requestContext", context(id, "sendMessage", "MESSAGE")},
                    {"body", body.dump()}}.dump());
                ASSERT_TRUE(response.has_value());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::vector<std::vector<std::string>> orders;
    for (auto const* id : {"OBS", "S0", "S7"}) {
        auto messages = frames_of_type(id, "message");
        ASSERT_EQ(messages.size(), static_cast<std::size_t>(senders * per_sender)) << id;
        std::vector<std::string> order;
        for (std::size_t i = 0; i < messages.size(); ++i) {
            EXPECT_EQ(messages[i]["seq"], static_cast<int>(i + 1)) << id << " receives in seq order";
            order.push_back(messages[i]["id"]);
        }
        orders.push_back(order);
    }
    EXPECT_EQ(orders[0], orders[1]);
    EXPECT_EQ(orders[0], orders[2]);
}

// Per-user rate limit: counted over all of a user's connections, ping exempt.
class ChatServiceUserRateLimit : public ChatService {
protected:
    static chat_options limited_options()
    {
        chat_options options;
        options.user_rate_per_second = 2;
        options.user_rate_burst = 4;
        return options;
    }
    chat_service limited{store, pusher, clock, verifier, limited_options()};
    stratus::handler limited_handler{limited};

    ChatServiceUserRateLimit() { active = &limited_handler; }
};

TEST_F(ChatServiceUserRateLimit, TheBudgetIsSharedByTheUsersConnectionsAndRefills)
{
    ASSERT_EQ(connect("A1", "user:alice:Alice"), 200);
    ASSERT_EQ(connect("A2", "user:alice:Alice"), 200);
    ASSERT_EQ(connect("B1", "user:bob:Bob"), 200);
    ASSERT_EQ(action("A1", {{"action", "joinRoom"}, {"room", "r"}})["type"], "joined"); // 1 of 4
    EXPECT_EQ(say("A1", "r", "one", "m1")["type"], "ack");                              // 2
    EXPECT_EQ(say("A2", "r", "two", "m2")["type"], "ack");                              // 3, other device
    EXPECT_EQ(say("A1", "r", "three", "m3")["type"], "ack");                            // 4
    auto refused = say("A2", "r", "four", "m4");
    EXPECT_EQ(refused["type"], "error");
    EXPECT_EQ(refused["code"], "rate_limited");
    EXPECT_EQ(refused["clientMsgId"], "m4");
    EXPECT_NE(refused["message"].get<std::string>().find("retry after"), std::string::npos);
    EXPECT_EQ(action("A1", {{"action", "ping"}})["type"], "pong"); // ping is never limited
    // Another user is unaffected.
    EXPECT_EQ(action("B1", {{"action", "joinRoom"}, {"room", "r"}})["type"], "joined");
    // Nothing of the refused request was stored.
    auto history = action("B1", {{"action", "getHistory"}, {"room", "r"}});
    EXPECT_EQ(history["messages"].size(), 3U);
    // Half a second later one token is back (2/s).
    clock.advance_ms(500);
    EXPECT_EQ(say("A2", "r", "four", "m4")["seq"], 4);
    EXPECT_EQ(say("A1", "r", "five", "m5")["code"], "rate_limited");
}

// The sender's record is read from the store at most once per process.
TEST_F(ChatService, MessagesDoNotReadTheSendersRecordRegisteredInThisProcess)
{
    alice_and_bob_in("r");
    store.get_connection_calls = 0;
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(say("A1", "r", "hi", "m" + std::to_string(i))["type"], "ack");
    }
    EXPECT_EQ(action("B1", {{"action", "getHistory"}, {"room", "r"}})["messages"].size(), 5U);
    EXPECT_EQ(store.get_connection_calls, 0);
}

TEST_F(ChatService, AnotherProcessReadsTheRecordOnceThenKnowsIt)
{
    alice_and_bob_in("r");
    // Another Lambda instance: the same store, its own chat_service.
    chat_service other{store, pusher, clock, verifier};
    stratus::handler other_handler{other};
    active = &other_handler;
    store.get_connection_calls = 0;
    EXPECT_EQ(say("A1", "r", "one", "m1")["type"], "ack");
    EXPECT_EQ(store.get_connection_calls, 1);
    auto const second = say("A1", "r", "two", "m2");
    EXPECT_EQ(second["type"], "ack");
    EXPECT_EQ(store.get_connection_calls, 1);
    // The identity still comes from the record.
    auto const delivered = frames_of_type("B1", "message");
    ASSERT_EQ(delivered.size(), 2U);
    EXPECT_EQ(delivered[1]["from"]["userId"], "alice");
    EXPECT_EQ(delivered[1]["from"]["name"], "Alice");
}

TEST_F(ChatService, AKnownConnectionStopsBeingKnownAtDisconnectAndAtItsTtl)
{
    alice_and_bob_in("r");
    disconnect("A1");
    EXPECT_EQ(say("A1", "r", "late", "m1")["code"], "unauthorized");
    // Bob's record expires (a connection outliving API Gateway's 2 h cap).
    clock.advance_ms((chat_options{}.connection_ttl_s + 1) * 1000);
    EXPECT_EQ(say("B1", "r", "stale", "m2")["code"], "unauthorized");
}

TEST_F(ChatService, AConnectionFoundGoneIsNoLongerKnown)
{
    alice_and_bob_in("r");
    pusher.mark_gone("B1");
    EXPECT_EQ(say("A1", "r", "is bob there", "m1")["type"], "ack"); // B1 found gone, removed
    store.get_connection_calls = 0;
    EXPECT_EQ(say("B1", "r", "I am back", "m2")["code"], "unauthorized");
    EXPECT_EQ(store.get_connection_calls, 1);
}

// A record another process deleted (e.g. a gateway on the same store that got a
// 410 for it) is trusted here for at most known_connections_max_age_s.
TEST_F(ChatService, ARecordDeletedElsewhereIsNoticedWithinTheMaxAge)
{
    alice_and_bob_in("r");
    chat_service other{store, pusher, clock, verifier};
    stratus::handler other_handler{other};
    active = &other_handler;
    EXPECT_EQ(say("A1", "r", "one", "m1")["type"], "ack"); // `other` now knows A1
    ASSERT_TRUE(memory.remove_connection("A1").has_value());
    clock.advance_ms((chat_options{}.known_connections_max_age_s - 1) * 1000);
    EXPECT_EQ(say("A1", "r", "two", "m2")["type"], "ack") << "still trusted within the max age";
    clock.advance_ms(1000);
    EXPECT_EQ(say("A1", "r", "three", "m3")["code"], "unauthorized");
}

class ChatServiceWithoutKnownConnections : public ChatService {
protected:
    static chat_options options()
    {
        chat_options o;
        o.known_connections_capacity = 0;
        return o;
    }
    chat_service uncached{store, pusher, clock, verifier, options()};
    stratus::handler uncached_handler{uncached};

    ChatServiceWithoutKnownConnections() { active = &uncached_handler; }
};

TEST_F(ChatServiceWithoutKnownConnections, EveryMessageReadsTheSendersRecord)
{
    alice_and_bob_in("r");
    store.get_connection_calls = 0;
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(say("A1", "r", "hi", "m" + std::to_string(i))["type"], "ack");
    }
    EXPECT_EQ(store.get_connection_calls, 3);
}

} // namespace
} // namespace stratus
