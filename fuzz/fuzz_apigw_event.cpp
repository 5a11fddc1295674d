// API Gateway WebSocket proxy events -> parse_apigw_event (the Lambda side of
// every invocation), plus what is derived from them:
// - callback_endpoint() and aws::endpoint::parse, as the pusher reads it back
//   from the connection record (on AWS, API Gateway's domain; on the local
//   gateway its own address or --domain-name);
// - differential: the gateway's event_builder renders the parsed fields again
//   and the parser must read back exactly the same event.

#include <cstdint>
#include <string>

#include "adapters/aws/http_message.hpp"
#include "core/apigw_event.hpp"
#include "fuzz_support.hpp"
#include "gateway/event_builder.hpp"

namespace {

using stratus::fuzz::expect;

void check_endpoint(stratus::apigw_event const& event)
{
    auto const url = stratus::callback_endpoint(event);
    if (event.domain_name.empty()) {
        expect(url.empty(), "no domainName -> no callback endpoint");
        return;
    }
    expect(url.starts_with("https://") || url.starts_with("http://"), "callback endpoint has a scheme");
    auto const parsed = stratus::aws::endpoint::parse(url);
    if (!parsed) {
        return;
    }
    // What the pusher's client sends (Host header, target prefix) must describe the same endpoint.
    auto const rebuilt =
        std::string(parsed->tls ? "https://" : "http://") + parsed->host_header() + parsed->base_path;
    auto const again = stratus::aws::endpoint::parse(rebuilt);
    expect(again.has_value(), "endpoint -> host_header -> endpoint parses");
    expect(again->tls == parsed->tls && again->host == parsed->host && again->port == parsed->port &&
               again->base_path == parsed->base_path,
           "endpoint round trip is exact");
}

std::string rebuild(stratus::apigw_event const& event)
{
    using stratus::gateway::event_builder;
    stratus::gateway::connection_context ctx;
    ctx.connection_id = event.connection_id;
    ctx.connected_at_ms = event.connected_at_ms;
    ctx.source_ip = event.source_ip;
    ctx.user_agent = event.user_agent;
    ctx.host = event.domain_name;
    ctx.domain_name = event.domain_name;
    ctx.stage = event.stage;
    ctx.api_id = event.api_id;
    if (event.event_type == "CONNECT") {
        stratus::gateway::handshake_info handshake;
        for (auto const& [name, value] : event.query) {
            handshake.query.emplace_back(name, value);
        }
        return event_builder::connect_event(ctx, handshake, event.request_id, event.request_time_epoch_ms);
    }
    if (event.event_type == "MESSAGE") {
        return event_builder::message_event(ctx, event.route_key, event.body.value_or(""), event.request_id,
                                            event.message_id, event.request_time_epoch_ms);
    }
    return event_builder::disconnect_event(ctx, event.disconnect_status_code.value_or(1005), "fuzz",
                                           event.request_id, event.request_time_epoch_ms);
}

void check_round_trip(stratus::apigw_event const& event)
{
    auto const again = stratus::parse_apigw_event(rebuild(event));
    expect(again.has_value(), "an event rendered by event_builder parses");
    auto const& e = *again;
    expect(e.event_type == event.event_type, "round trip: eventType");
    expect(e.connection_id == event.connection_id, "round trip: connectionId");
    expect(e.request_id == event.request_id, "round trip: requestId");
    expect(e.stage == event.stage && e.domain_name == event.domain_name && e.api_id == event.api_id,
           "round trip: stage, domainName, apiId");
    expect(e.connected_at_ms == event.connected_at_ms &&
               e.request_time_epoch_ms == event.request_time_epoch_ms,
           "round trip: connectedAt, requestTimeEpoch");
    expect(e.source_ip == event.source_ip && e.user_agent == event.user_agent, "round trip: identity");
    if (event.event_type == "CONNECT") {
        expect(e.route_key == "$connect", "round trip: $connect");
        expect(e.query == event.query, "round trip: queryStringParameters");
        expect(e.forwarded_proto == "http", "round trip: the gateway's X-Forwarded-Proto");
    } else if (event.event_type == "MESSAGE") {
        expect(e.route_key == event.route_key && e.message_id == event.message_id,
               "round trip: routeKey, messageId");
        expect(e.body == event.body.value_or(""), "round trip: body");
    } else {
        expect(e.route_key == "$disconnect", "round trip: $disconnect");
        expect(e.disconnect_status_code == event.disconnect_status_code.value_or(1005),
               "round trip: disconnectStatusCode");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const event = stratus::parse_apigw_event(stratus::fuzz::as_text(data, size));
    if (!event) {
        expect(event.error().code == stratus::errc::invalid_request, "a refused event is invalid_request");
        return 0;
    }
    expect(event->event_type == "CONNECT" || event->event_type == "MESSAGE" ||
               event->event_type == "DISCONNECT",
           "eventType is one of the three");
    expect(!event->connection_id.empty(), "connectionId is not empty");
    check_endpoint(*event);
    check_round_trip(*event);
    return 0;
}
