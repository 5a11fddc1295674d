#pragma once

#include <memory>

#include "core/result.hpp"
#include "gateway/beast.hpp"
#include "gateway/net.hpp"

namespace stratus::gateway {

class gateway;

/// Accepts TCP connections; each socket gets its own strand and an http_session.
class listener : public std::enable_shared_from_this<listener> {
public:
    listener(net::io_context& ioc, gateway& owner);

    /// Opens, binds and listens. Returns the bound endpoint.
    [[nodiscard]] result<tcp::endpoint> open(tcp::endpoint const& endpoint);

    /// Starts the accept loop.
    void run();

    /// Closes the acceptor (no new connections).
    void stop();

private:
    void do_accept();
    void on_accept(beast::error_code ec, tcp::socket socket);

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    gateway& gateway_;
};

} // namespace stratus::gateway
