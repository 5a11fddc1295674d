#include "core/protocol.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace stratus {
namespace {

using json = nlohmann::json;

TEST(Protocol, MapsActionNames)
{
    EXPECT_EQ(action_from_name("sendMessage"), action::send_message);
    EXPECT_EQ(action_from_name("ping"), action::ping);
    EXPECT_FALSE(action_from_name("sendmessage").has_value()) << "route keys are case-sensitive";
    EXPECT_FALSE(action_from_name("$default").has_value());
    EXPECT_EQ(action_names().size(), 8U);
}

TEST(Protocol, ParsesSendMessage)
{
    auto request = parse_client_request(
        action::send_message,
        R"({"action":"sendMessage","room":"general","text":"hi","clientMsgId":"c1","x":1})");
    ASSERT_TRUE(request) << request.error().detail;
    EXPECT_EQ(request->room, "general");
    EXPECT_EQ(request->text, "hi");
    EXPECT_EQ(request->client_msg_id, "c1");
}

TEST(Protocol, ParsesHistoryBounds)
{
    auto request = parse_client_request(action::get_history, R"({"room":"r","after":7,"limit":100})");
    ASSERT_TRUE(request);
    EXPECT_EQ(request->after, 7);
    EXPECT_FALSE(request->before.has_value());
    EXPECT_EQ(request->limit, 100);
    auto defaults = parse_client_request(action::get_history, R"({"room":"r"})");
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->limit, 50);
}

TEST(Protocol, RejectsWrongShapes)
{
    EXPECT_FALSE(parse_client_request(action::join_room, "[]"));
    EXPECT_FALSE(parse_client_request(action::join_room, "null"));
    EXPECT_FALSE(parse_client_request(action::join_room, R"({"room":1})"));
    EXPECT_FALSE(parse_client_request(action::join_room, R"({"room":"ok")"));
    EXPECT_FALSE(parse_client_request(action::get_history, R"({"room":"r","limit":"10"})"));
    EXPECT_FALSE(parse_client_request(action::get_history, R"({"room":"r","after":99999999999999999999})"));
    EXPECT_FALSE(parse_client_request(action::ping, std::string(5000, '[') + std::string(5000, ']')));
    EXPECT_FALSE(parse_client_request(action::ping, std::string(R"({"action":"ping"})") + '\0' + "garbage"));
    // Lone surrogate escapes are not text.
    EXPECT_FALSE(
        parse_client_request(action::send_message, R"({"room":"r","text":"\ud800","clientMsgId":"c"})"));
}

TEST(Protocol, PeeksTheActionForErrors)
{
    EXPECT_EQ(peek_action(R"({"action":"dance"})"), "dance");
    EXPECT_EQ(peek_action(R"({"action":5})"), "");
    EXPECT_EQ(peek_action("garbage"), "");
    EXPECT_EQ(peek_action(R"({"action":")" + std::string(100, 'a') + R"("})"), "");
}

TEST(Protocol, BuildsFramesWithTheDocumentedFields)
{
    stored_message m{"general", 3, "id-3", {"u1", "Alice"}, "hi \"there\" <b>", 1700000000123, "c3"};
    auto message = json::parse(message_frame(m));
    EXPECT_EQ(message, json::parse(R"({"type":"message","room":"general","seq":3,"id":"id-3",
        "from":{"userId":"u1","name":"Alice"},"text":"hi \"there\" <b>","ts":1700000000123,"clientMsgId":"c3"})"));
    auto ack = json::parse(ack_frame(m));
    EXPECT_EQ(ack, json::parse(R"({"type":"ack","room":"general","clientMsgId":"c3","seq":3,"id":"id-3",
        "ts":1700000000123})"));
    auto error =
        json::parse(error_frame(errc::throttled, "slow down", error_echo{"sendMessage", "", ""}, "r1"));
    EXPECT_EQ(error["code"], "rate_limited");
    EXPECT_EQ(error["requestId"], "r1");
    EXPECT_FALSE(error.contains("validActions"));
    EXPECT_FALSE(error.contains("room"));
    auto echoed = json::parse(
        error_frame(errc::too_large, "too long",
                    peek_echo(R"({"action":"sendMessage","room":"r","clientMsgId":"c9"})"), "r2"));
    EXPECT_EQ(echoed["room"], "r");
    EXPECT_EQ(echoed["clientMsgId"], "c9");
    EXPECT_EQ(peek_echo(R"({"room":5,"clientMsgId":")" + std::string(65, 'x') + R"("})").room, "");
    EXPECT_EQ(json::parse(pong_frame()), json::parse(R"({"type":"pong"})"));
}

TEST(Protocol, ErrorCodesAreTheDocumentedOnes)
{
    EXPECT_EQ(protocol_code(errc::invalid_request), "invalid_request");
    EXPECT_EQ(protocol_code(errc::not_member), "not_member");
    EXPECT_EQ(protocol_code(errc::too_large), "too_large");
    EXPECT_EQ(protocol_code(errc::throttled), "rate_limited");
    EXPECT_EQ(protocol_code(errc::unauthorized), "unauthorized");
    EXPECT_EQ(protocol_code(errc::not_found), "not_found");
    EXPECT_EQ(protocol_code(errc::unavailable), "internal");
}

} // namespace
} // namespace stratus
