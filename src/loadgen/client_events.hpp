#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stratus::loadgen {

class ws_client;

/// What a client reports to the worker that owns it. Called on the worker's
/// I/O thread only.
class client_events {
public:
    virtual ~client_events() = default;

    /// The WebSocket handshake completed.
    virtual void on_open(ws_client& client) = 0;
    /// The connection could not be made (TCP or handshake).
    virtual void on_connect_failed(ws_client& client, std::string const& why) = 0;
    /// One complete text message arrived at steady-clock time `received_ns`.
    virtual void on_frame(ws_client& client, std::string_view frame, std::int64_t received_ns) = 0;
    /// An open connection ended without the load generator asking for it.
    virtual void on_lost(ws_client& client, std::string const& why) = 0;
    /// A sender has sent (rate mode) or had acknowledged (closed loop) all its messages.
    virtual void on_sender_done(ws_client& client) = 0;
};

} // namespace stratus::loadgen
