#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stratus::gateway {

/// What the gateway knows about one connection; the constant part of every
/// event's requestContext.
struct connection_context {
    std::string connection_id;
    std::int64_t connected_at_ms = 0;
    std::string source_ip;
    std::string user_agent;
    std::string host;        ///< the Host header of the handshake (headers.Host)
    std::string domain_name; ///< the gateway's own host[:port] (requestContext.domainName)
    std::string stage;
    std::string api_id;
};

/// The handshake request, for the CONNECT event: headers in client case and
/// order, and the decoded query parameters in order (repeats kept).
struct handshake_info {
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::pair<std::string, std::string>> query;
    std::uint16_t local_port = 0;
};

/// Builds API Gateway WebSocket proxy events with exactly the field set of
/// each event type (aws-semantics §1.3). Pure functions of their inputs.
class event_builder {
public:
    /// CONNECT: headers + multiValueHeaders (with the X-Amzn-Trace-Id and
    /// X-Forwarded-* headers API Gateway adds), query parameters when present.
    static std::string connect_event(connection_context const& ctx, handshake_info const& handshake,
                                     std::string_view request_id, std::int64_t now_ms);

    /// MESSAGE: body, messageId, the selected routeKey.
    static std::string message_event(connection_context const& ctx, std::string_view route_key,
                                     std::string_view body, std::string_view request_id,
                                     std::string_view message_id, std::int64_t now_ms);

    /// DISCONNECT: synthetic headers, disconnectStatusCode and disconnectReason.
    static std::string disconnect_event(connection_context const& ctx, int status_code,
                                        std::string_view reason, std::string_view request_id,
                                        std::int64_t now_ms);

    /// requestTime in Common Log Format: "20/Jan/2024:11:55:08 +0000".
    static std::string clf_time(std::int64_t epoch_ms);

    /// ISO-8601 UTC with milliseconds: "2024-01-20T11:55:08.123Z".
    static std::string iso8601(std::int64_t epoch_ms);

    /// An id in API Gateway's format: 16 characters of base64url alphabet
    /// ending in '=' (like "R1kmxc2VNjMCFIA="), from 88 random bits.
    static std::string make_id();

    /// True when `id` has the shape make_id produces (used to answer 400 to
    /// malformed @connections ids).
    static bool is_well_formed_id(std::string_view id);

    /// True for host[:port] fit for requestContext.domainName (--domain-name):
    /// a DNS name or IPv4 address of [A-Za-z0-9._-] (not starting with '.' or
    /// '-') or a bracketed IPv6 address, then optionally ':' and a port
    /// 1-65535; nothing that could carry a path, user info or a second host.
    static bool is_domain_name(std::string_view text);
};

} // namespace stratus::gateway
