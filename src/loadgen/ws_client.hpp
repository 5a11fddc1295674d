#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "loadgen/beast.hpp"
#include "loadgen/net.hpp"

namespace stratus::loadgen {

class client_events;
struct run_plan;

/// One load-generator connection: a Beast WebSocket client on its worker's
/// io_context (one thread, so no strand is needed). It reads continuously and
/// hands every message to its worker; it writes through a queue with one
/// write in flight. A sender also paces its own messages: in closed loop it
/// keeps at most `window` unacknowledged, in rate mode it sends on a timer.
/// Message texts are stamped when their write starts.
class ws_client : public std::enable_shared_from_this<ws_client> {
public:
    /// `sender` is the client's sender id, or nullopt for a receive-only client.
    ws_client(net::io_context& ioc, run_plan const& plan, client_events& events, std::uint32_t index,
              std::uint32_t local_index, std::optional<std::uint32_t> sender);

    /// Connects and opens the WebSocket on `target` (the path and query).
    void connect(tcp::endpoint const& endpoint, std::string target);

    /// Queues a control frame (joinRoom); sent before any pending message.
    void send_control(std::string frame);

    /// Starts sending this sender's messages; the rate schedule begins at steady-clock `start_ns`.
    void start_sending(std::int64_t start_ns);

    /// The server acknowledged one of this sender's messages (Stratus ack, or
    /// the sender's own echo from the floor server).
    void acknowledge();

    /// Closes the socket (end of run); later failures are not reported.
    void close();

    [[nodiscard]] std::uint32_t index() const { return index_; }
    [[nodiscard]] std::uint32_t local_index() const { return local_index_; }
    [[nodiscard]] std::optional<std::uint32_t> sender() const { return sender_; }
    [[nodiscard]] bool joined() const { return joined_; }
    void mark_joined() { joined_ = true; }
    /// Rate mode: how far the latest write started behind its schedule (worst so far).
    [[nodiscard]] std::int64_t max_send_lag_ns() const { return max_send_lag_ns_; }
    /// steady-clock ns of this sender's first message write (0 if none).
    [[nodiscard]] std::int64_t first_send_ns() const { return first_send_ns_; }

private:
    void on_connect(std::string target, beast::error_code ec);
    void on_handshake(beast::error_code ec);
    void do_read();
    void on_read(beast::error_code ec, std::size_t bytes);
    void do_write();
    void on_write(beast::error_code ec, std::size_t bytes);
    void arm_rate_timer();
    void on_rate_timer(beast::error_code ec);
    void finish_if_done();

    websocket::stream<tcp::socket> ws_;
    run_plan const& plan_;
    client_events& events_;
    std::uint32_t index_;
    std::uint32_t local_index_;
    std::optional<std::uint32_t> sender_;
    beast::flat_buffer buffer_;
    net::steady_timer timer_;

    // Writes: control frames first, then messages; `writing_` is the one in flight.
    std::deque<std::string> control_;
    std::string writing_;
    bool write_in_flight_ = false;
    bool open_ = false;
    bool closing_ = false;
    bool joined_ = false;

    // Sender state.
    std::uint32_t due_ = 0;     // messages allowed to start (window or timer ticks)
    std::uint32_t started_ = 0; // message writes started (= next index)
    std::uint32_t written_ = 0; // message writes completed
    std::uint32_t acked_ = 0;   // acknowledged (closed loop)
    bool sending_ = false;
    bool done_ = false;
    std::int64_t start_ns_ = 0;
    std::int64_t first_send_ns_ = 0;
    std::int64_t max_send_lag_ns_ = 0;
};

} // namespace stratus::loadgen
