#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace stratus {

/// The fields of an API Gateway WebSocket proxy event (aws-semantics §1.3)
/// that the handler uses. Built by parse_apigw_event from the exact JSON that
/// API Gateway (or the Stratus gateway) sends.
struct apigw_event {
    std::string route_key;  ///< "$connect", "$disconnect", "$default" or a custom key
    std::string event_type; ///< "CONNECT", "MESSAGE" or "DISCONNECT"
    std::string connection_id;
    std::string request_id;
    std::string message_id; ///< MESSAGE only
    std::string stage;
    std::string domain_name;
    std::string api_id;
    std::int64_t connected_at_ms = 0;
    std::int64_t request_time_epoch_ms = 0;
    std::string source_ip;
    std::string user_agent;
    std::optional<std::string> body;           ///< MESSAGE only
    std::map<std::string, std::string> query;  ///< CONNECT only
    std::string forwarded_proto;               ///< X-Forwarded-Proto of the handshake (CONNECT)
    std::optional<int> disconnect_status_code; ///< DISCONNECT only
};

/// The @connections endpoint for this event's connection: "{proto}://{domainName}/{stage}"
/// with proto from X-Forwarded-Proto (https when absent); "" without a domainName.
[[nodiscard]] std::string callback_endpoint(apigw_event const& event);

/// The Lambda proxy response: {"statusCode","headers","body","isBase64Encoded"}.
struct proxy_response {
    int status_code = 200;
    std::optional<std::string> body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// Parses and validates an event. Malformed JSON or missing/mistyped required
/// fields -> errc::invalid_request (the integration fails; API Gateway then
/// answers "Internal server error").
[[nodiscard]] result<apigw_event> parse_apigw_event(std::string_view json);

/// Serialises a proxy response as Lambda returns it.
[[nodiscard]] std::string to_json(proxy_response const& response);

/// Parses a proxy response as API Gateway reads it from the integration.
/// Anything that is not an object with an integer statusCode (and, when
/// present, a string body and string-valued headers) -> errc::invalid_request.
[[nodiscard]] result<proxy_response> parse_proxy_response(std::string_view json);

} // namespace stratus
