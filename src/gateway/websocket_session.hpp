#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "gateway/beast.hpp"
#include "gateway/event_builder.hpp"
#include "gateway/frame_guard.hpp"
#include "gateway/gateway.hpp"
#include "gateway/net.hpp"
#include "gateway/token_bucket.hpp"

namespace stratus::gateway {

/// One client WebSocket, from $connect to $disconnect, behaving as API Gateway
/// does: the handshake waits for $connect, frames are routed by the route
/// table, limits close with 1009/1003, idle and lifetime caps close with 1001.
/// Outgoing frames go through a bounded queue with one write in flight.
class websocket_session : public std::enable_shared_from_this<websocket_session> {
public:
    /// What GET @connections/{id} reports.
    struct info_snapshot {
        std::int64_t connected_at_ms = 0;
        std::int64_t last_active_ms = 0;
        std::string source_ip;
        std::string user_agent;
    };

    websocket_session(beast::tcp_stream&& stream, gateway& owner,
                      std::unique_ptr<connection_limiter::ticket> slot = nullptr);
    ~websocket_session();

    /// Runs $connect for the upgrade request, then accepts or refuses it.
    void run(http::request<http::string_body> request);

    /// Queues a text frame. False when the connection is closed (-> 410 Gone).
    /// Thread-safe.
    bool send(std::shared_ptr<std::string const> frame);

    /// Closes from the server side with `code` (DeleteConnection, shutdown).
    /// Thread-safe.
    void close(std::uint16_t code, std::string reason);

    /// Thread-safe.
    [[nodiscard]] info_snapshot info() const;

private:
    using stream_type = websocket::stream<frame_guard<beast::tcp_stream>>;

    void on_connect_result(result<std::string> response);
    void refuse(http::status status);
    void on_accept(beast::error_code ec);
    void do_read();
    void on_read(beast::error_code ec, std::size_t bytes);
    void on_message(std::string body);
    void on_integration_result(bool route_response, std::string const& request_id,
                               result<std::string> response);
    void send_error_frame(std::string_view message, std::string const& request_id);
    void on_send(std::shared_ptr<std::string const> frame);
    void do_write();
    void on_write(beast::error_code ec, std::size_t bytes);
    void start_close(std::uint16_t code, std::string reason);
    void abort();
    void arm_timer();
    void on_timer(beast::error_code ec);
    void on_closed(int code, std::string reason);
    std::int64_t now_ms() const;

    /// Data frames refused by the rate limit; true when the connection was closed for abuse.
    bool over_rate_limit(std::string const& body);

    stream_type ws_;
    gateway& gateway_;
    gateway::worker_strand invoke_strand_;
    connection_context context_;
    http::request<http::string_body> request_;
    beast::flat_buffer buffer_;
    net::steady_timer timer_;

    // Outgoing frames; only the head is being written. Touched on the strand only.
    std::deque<std::shared_ptr<std::string const>> queue_;
    std::size_t queued_bytes_ = 0;
    bool open_ = false;
    bool closed_ = false;
    std::optional<std::uint16_t> server_close_code_;
    std::string server_close_reason_;

    // Read from other threads (send(), info()).
    std::atomic<bool> accepting_sends_{false};
    std::atomic<std::int64_t> last_active_ms_{0};

    // Abuse controls: the connection's slot under the per-IP cap, and its rate
    // limit (touched on the strand only).
    std::unique_ptr<connection_limiter::ticket> slot_;
    token_bucket rate_;
    int refused_in_a_row_ = 0;
};

} // namespace stratus::gateway
