#include "gateway/listener.hpp"

#include <iostream>

#include "gateway/gateway.hpp"
#include "gateway/http_session.hpp"

namespace stratus::gateway {

listener::listener(net::io_context& ioc, gateway& owner)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), gateway_(owner)
{
}

result<tcp::endpoint> listener::open(tcp::endpoint const& endpoint)
{
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
        acceptor_.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return fail(errc::unavailable, "cannot listen on " + endpoint.address().to_string() + ":" +
                                           std::to_string(endpoint.port()) + ": " + ec.message());
    }
    auto bound = acceptor_.local_endpoint(ec);
    if (ec) {
        return fail(errc::unavailable, "cannot read the bound address: " + ec.message());
    }
    return bound;
}

void listener::run()
{
    do_accept();
}

void listener::stop()
{
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
        beast::error_code ignored;
        self->acceptor_.close(ignored);
    });
}

void listener::do_accept()
{
    // Each connection gets its own strand so its handlers never run concurrently.
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(beast::error_code ec, tcp::socket socket)
{
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) {
        return;
    }
    if (ec) {
        // Out of descriptors and similar: report, back off briefly, keep accepting.
        std::cerr << "stratus: accept failed: " << ec.message() << "\n";
        auto timer =
            std::make_shared<net::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
        timer->async_wait(
            [self = shared_from_this(), timer](beast::error_code const&) { self->do_accept(); });
        return;
    }
    // Per-IP and total caps, before anything is read: over them the socket is
    // closed at once (an idle or slow flood costs nothing but the accept).
    beast::error_code ip_ec;
    auto const remote = socket.remote_endpoint(ip_ec);
    auto ticket = ip_ec ? nullptr : gateway_.limiter().try_acquire(remote.address().to_string());
    if (!ticket) {
        beast::error_code ignored;
        socket.close(ignored);
    } else {
        // Chat frames are small and latency-bound: no Nagle delay on replies and pushes
        // (without it a lone sender waits ~40 ms for its ack behind a delayed ACK).
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<http_session>(std::move(socket), gateway_, std::move(ticket))->run();
    }
    do_accept();
}

} // namespace stratus::gateway
