#include "core/apigw_event.hpp"

#include <gtest/gtest.h>

namespace stratus {
namespace {

// A real $disconnect capture (aws/aws-lambda-go testdata, abridged).
constexpr char const* disconnect_capture =
    R"({"headers":{"Host":"dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
"x-api-key":"","X-Forwarded-For":"","x-restapi":""},"multiValueHeaders":{"Host":["dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com"]},
"requestContext":{"routeKey":"$disconnect","disconnectStatusCode":1001,"eventType":"DISCONNECT",
"extendedRequestId":"R1koeHsUtjMFbRw=","requestTime":"20/Jan/2024:11:55:08 +0000","messageDirection":"IN",
"disconnectReason":"","stage":"prod","connectedAt":1705751697419,"requestTimeEpoch":1705751708326,
"identity":{"userAgent":"Mozilla/5.0","sourceIp":"49.105.91.154"},"requestId":"R1koeHsUtjMFbRw=",
"domainName":"dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com","connectionId":"R1kmxc2VNjMCFIA=",
"apiId":"dl7ptocha9"},"isBase64Encoded":false})";

TEST(ApigwEvent, ParsesARealDisconnectCapture)
{
    auto event = parse_apigw_event(disconnect_capture);
    ASSERT_TRUE(event) << event.error().detail;
    EXPECT_EQ(event->route_key, "$disconnect");
    EXPECT_EQ(event->event_type, "DISCONNECT");
    EXPECT_EQ(event->connection_id, "R1kmxc2VNjMCFIA=");
    EXPECT_EQ(event->disconnect_status_code, 1001);
    EXPECT_EQ(event->connected_at_ms, 1705751697419);
    EXPECT_EQ(event->source_ip, "49.105.91.154");
    EXPECT_EQ(event->stage, "prod");
    EXPECT_FALSE(event->body.has_value());
}

TEST(ApigwEvent, ParsesMessageBodyAndQuery)
{
    auto event = parse_apigw_event(R"({"requestContext":{"routeKey":"$connect","eventType":"CONNECT",
        "connectionId":"abc="},"queryStringParameters":{"token":"t"}})");
    ASSERT_TRUE(event);
    EXPECT_EQ(event->query.at("token"), "t");
    auto message = parse_apigw_event(R"({"requestContext":{"routeKey":"ping","eventType":"MESSAGE",
        "connectionId":"abc=","messageId":"m="},"body":"{\"action\":\"ping\"}"})");
    ASSERT_TRUE(message);
    EXPECT_EQ(*message->body, R"({"action":"ping"})");
    EXPECT_EQ(message->message_id, "m=");
}

TEST(ApigwEvent, RejectsMalformedEvents)
{
    EXPECT_FALSE(parse_apigw_event(""));
    EXPECT_FALSE(parse_apigw_event("[]"));
    EXPECT_FALSE(parse_apigw_event(R"({"requestContext":"x"})"));
    EXPECT_FALSE(
        parse_apigw_event(R"({"requestContext":{"routeKey":"a","eventType":"OTHER","connectionId":"c"}})"));
    EXPECT_FALSE(
        parse_apigw_event(R"({"requestContext":{"routeKey":"a","eventType":"MESSAGE","connectionId":""}})"));
    EXPECT_FALSE(
        parse_apigw_event(R"({"requestContext":{"routeKey":"a","eventType":"MESSAGE","connectionId":"c"},
        "body":{}})"));
    EXPECT_FALSE(
        parse_apigw_event(R"({"requestContext":{"routeKey":"a","eventType":"CONNECT","connectionId":"c"},
        "queryStringParameters":{"token":1}})"));
}

TEST(ApigwEvent, DerivesTheCallbackEndpointLikeTheAwsSdkSamples)
{
    auto aws = parse_apigw_event(disconnect_capture);
    ASSERT_TRUE(aws);
    EXPECT_EQ(callback_endpoint(*aws), "https://dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com/prod");
    auto local = parse_apigw_event(R"({"requestContext":{"routeKey":"$connect","eventType":"CONNECT",
        "connectionId":"abc=","domainName":"127.0.0.1:8080","stage":"local"},
        "headers":{"X-Forwarded-Proto":"http"}})");
    ASSERT_TRUE(local);
    EXPECT_EQ(callback_endpoint(*local), "http://127.0.0.1:8080/local");
    apigw_event bare;
    EXPECT_EQ(callback_endpoint(bare), "");
}

TEST(ApigwEvent, RoundTripsProxyResponses)
{
    proxy_response response;
    response.status_code = 401;
    response.body = R"({"x":"y"})";
    response.headers.emplace_back("Sec-WebSocket-Protocol", "chat");
    auto parsed = parse_proxy_response(to_json(response));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->status_code, 401);
    EXPECT_EQ(*parsed->body, R"({"x":"y"})");
    EXPECT_EQ(parsed->headers.at(0).second, "chat");
}

TEST(ApigwEvent, RejectsMalformedProxyResponses)
{
    EXPECT_FALSE(parse_proxy_response("oops"));
    EXPECT_FALSE(parse_proxy_response("{}"));
    EXPECT_FALSE(parse_proxy_response(R"({"statusCode":"200"})"));
    EXPECT_FALSE(parse_proxy_response(R"({"statusCode":700})"));
    EXPECT_FALSE(parse_proxy_response(R"({"statusCode":200,"body":5})"));
    EXPECT_FALSE(parse_proxy_response(R"({"statusCode":200,"headers":{"a":1}})"));
}

} // namespace
} // namespace stratus
