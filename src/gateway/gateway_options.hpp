#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace stratus::gateway {

/// Settings of the gateway. Defaults are API Gateway's documented limits.
struct gateway_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    std::string stage = "local";
    /// requestContext.apiId (10 lowercase alphanumerics on AWS).
    std::string api_id = "stratusdev";
    /// requestContext.domainName: the host[:port] where this gateway's
    /// @connections API is reached (the endpoint stored for each connection).
    /// Empty: the bound address and port (loopback when bound to any address).
    /// Never the client's Host header, which would let a client choose where
    /// pushes for its connection go.
    std::string domain_name;
    std::filesystem::path web_root;
    /// Closed with 1001 after this long without a data frame from the client.
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
    /// Hard cap on a connection's life, then close 1001.
    std::chrono::milliseconds max_connection_duration = std::chrono::hours(2);
    /// WebSocket ping interval/timeout that detects peers that vanished
    /// without a close frame (half-open TCP). Pings never count as activity.
    std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(30);
    /// Time allowed for a whole HTTP request (line, headers, body) or WebSocket
    /// handshake to arrive: a slow-drip client (slowloris) is cut off at it.
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    /// Open TCP connections per client IP and in total (0: no cap). Over the
    /// cap a new connection is closed at once, before anything is read.
    std::size_t max_connections_per_ip = 256;
    std::size_t max_connections = 16384;
    /// Origins allowed to open a WebSocket besides the same origin (origin_policy).
    std::vector<std::string> allowed_origins;
    /// Per-connection rate limit on data frames (token bucket; 0 disables):
    /// the excess gets a `rate_limited` error frame, and a client that sends
    /// `rate_abuse_frames` refused frames in a row is closed with 1008.
    double rate_per_second = 100;
    double rate_burst = 1000;
    int rate_abuse_frames = 100;
    std::size_t max_frame_bytes = 32 * 1024;
    std::size_t max_message_bytes = 128 * 1024;
    /// @connections POST payload limit (PostToConnection Data).
    std::size_t max_post_bytes = 131072;
    /// Bytes queued for one slow client before that connection is dropped.
    std::size_t max_send_queue_bytes = 4 * 1024 * 1024;
    /// After SIGTERM/shutdown(), how long run() waits for handler calls still
    /// running ($disconnect events of the closed sessions) before giving up
    /// on them (a store that hangs would otherwise hold the process forever).
    std::chrono::milliseconds shutdown_grace = std::chrono::seconds(10);
    int io_threads = 1;
    int worker_threads = 4;
};

} // namespace stratus::gateway
