#include "gateway/event_builder.hpp"

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/apigw_event.hpp"

namespace stratus::gateway {
namespace {

using json = nlohmann::json;

connection_context sample_context()
{
    connection_context ctx;
    ctx.connection_id = "R1kmxc2VNjMCFIA=";
    ctx.connected_at_ms = 1705751697419;
    ctx.source_ip = "127.0.0.1";
    ctx.user_agent = "wscat/6";
    ctx.host = "attacker.example:443"; // what the client sent as Host
    ctx.domain_name = "127.0.0.1:8080";
    ctx.stage = "local";
    ctx.api_id = "stratusdev";
    return ctx;
}

std::set<std::string> keys(json const& object)
{
    std::set<std::string> out;
    for (auto const& [key, value] : object.items()) {
        out.insert(key);
    }
    return out;
}

std::set<std::string> const common_context{
    "routeKey",    "eventType",        "extendedRequestId", "requestTime", "messageDirection", "stage",
    "connectedAt", "requestTimeEpoch", "identity",          "requestId",   "domainName",       "connectionId",
    "apiId"};

TEST(EventBuilder, ConnectEventHasExactlyTheConnectFields)
{
    handshake_info handshake;
    handshake.headers = {
        {"Host", "127.0.0.1:8080"}, {"Sec-WebSocket-Key", "k"}, {"Cookie", "a"}, {"Cookie", "b"}};
    handshake.query = {{"token", "abc"}, {"x", "1"}, {"x", "2"}};
    handshake.local_port = 8080;
    auto const event =
        json::parse(event_builder::connect_event(sample_context(), handshake, "REQ=", 1705751708326));

    EXPECT_EQ(keys(event), (std::set<std::string>{"headers", "multiValueHeaders", "queryStringParameters",
                                                  "multiValueQueryStringParameters", "requestContext",
                                                  "isBase64Encoded"}));
    EXPECT_EQ(keys(event["requestContext"]), common_context);
    EXPECT_EQ(event["requestContext"]["eventType"], "CONNECT");
    EXPECT_EQ(event["requestContext"]["routeKey"], "$connect");
    EXPECT_EQ(event["requestContext"]["requestTime"], "20/Jan/2024:11:55:08 +0000");
    EXPECT_EQ(event["requestContext"]["extendedRequestId"], event["requestContext"]["requestId"]);
    // domainName is the gateway's own: a client's Host header must not choose
    // where @connections pushes for its connection go.
    EXPECT_EQ(event["requestContext"]["domainName"], "127.0.0.1:8080");
    EXPECT_EQ(event["headers"]["Sec-WebSocket-Key"], "k");
    EXPECT_EQ(event["headers"]["X-Forwarded-Port"], "8080");
    EXPECT_TRUE(event["headers"]["X-Amzn-Trace-Id"].get<std::string>().starts_with("Root=1-"));
    EXPECT_EQ(event["multiValueHeaders"]["Cookie"], json::array({"a", "b"}));
    EXPECT_EQ(event["queryStringParameters"]["x"], "2");
    EXPECT_EQ(event["multiValueQueryStringParameters"]["x"], json::array({"1", "2"}));
    EXPECT_EQ(event["isBase64Encoded"], false);
    // The handler can read what the gateway builds.
    auto parsed = parse_apigw_event(event.dump());
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->query.at("token"), "abc");
}

TEST(EventBuilder, ConnectWithoutQueryHasNoQueryFields)
{
    auto const event =
        json::parse(event_builder::connect_event(sample_context(), handshake_info{}, "REQ=", 1705751708326));
    EXPECT_FALSE(event.contains("queryStringParameters"));
    EXPECT_FALSE(event.contains("multiValueQueryStringParameters"));
}

TEST(EventBuilder, MessageEventHasBodyAndMessageIdAndNoHeaders)
{
    auto const event = json::parse(event_builder::message_event(
        sample_context(), "sendMessage", R"({"action":"sendMessage"})", "REQ=", "MSG=", 1));
    EXPECT_EQ(keys(event), (std::set<std::string>{"requestContext", "body", "isBase64Encoded"}));
    auto expected = common_context;
    expected.insert("messageId");
    EXPECT_EQ(keys(event["requestContext"]), expected);
    EXPECT_EQ(event["requestContext"]["eventType"], "MESSAGE");
    EXPECT_EQ(event["body"], R"({"action":"sendMessage"})");
}

TEST(EventBuilder, DisconnectEventHasSyntheticHeadersAndTheCloseCode)
{
    auto const event =
        json::parse(event_builder::disconnect_event(sample_context(), 1001, "", "REQ=", 1705751708326));
    EXPECT_EQ(keys(event),
              (std::set<std::string>{"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}));
    EXPECT_EQ(keys(event["headers"]),
              (std::set<std::string>{"Host", "x-api-key", "X-Forwarded-For", "x-restapi"}));
    auto expected = common_context;
    expected.insert("disconnectStatusCode");
    expected.insert("disconnectReason");
    EXPECT_EQ(keys(event["requestContext"]), expected);
    EXPECT_EQ(event["requestContext"]["disconnectStatusCode"], 1001);
}

TEST(EventBuilder, IdsHaveApiGatewaysShapeAndAreUnique)
{
    std::set<std::string> seen;
    for (int i = 0; i < 10000; ++i) {
        auto const id = event_builder::make_id();
        ASSERT_TRUE(event_builder::is_well_formed_id(id)) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 10000U);
    EXPECT_TRUE(event_builder::is_well_formed_id("R1kmxc2VNjMCFIA="));
    EXPECT_TRUE(event_builder::is_well_formed_id("eHrdFcnvvHcCE-w="));
    EXPECT_FALSE(event_builder::is_well_formed_id("short="));
    EXPECT_FALSE(event_builder::is_well_formed_id("R1kmxc2VNjMCFIAx"));
    EXPECT_FALSE(event_builder::is_well_formed_id("R1kmxc2VNjMC IA="));
}

TEST(EventBuilder, FormatsTimes)
{
    EXPECT_EQ(event_builder::clf_time(1705751708326), "20/Jan/2024:11:55:08 +0000");
    EXPECT_EQ(event_builder::iso8601(1705751708326), "2024-01-20T11:55:08.326Z");
    EXPECT_EQ(event_builder::iso8601(1705751708005), "2024-01-20T11:55:08.005Z");
}

TEST(EventBuilder, DomainNamesAreHostAndOptionalPortOnly)
{
    for (std::string_view ok : {"localhost", "127.0.0.1:8080", "chat.example.com", "gw-a.internal:443",
                                "gw_b:1", "[::1]", "[::1]:8080", "[fe80::1]:65535", "a:1"}) {
        EXPECT_TRUE(event_builder::is_domain_name(ok)) << ok;
    }
    for (std::string_view bad :
         {"",          ":8080",      "host:", "host:0", "host:65536", "host:123456", "host:80a",
          "a]b",       "[::1",       "[]:80", "[::1]x", "[::1]:",     "[g::1]",      "evil.com/x",
          "user@host", "host:80:81", "-host", ".host",  "a b",        "host#x",      "host?x"}) {
        EXPECT_FALSE(event_builder::is_domain_name(bad)) << bad;
    }
}

} // namespace
} // namespace stratus::gateway
