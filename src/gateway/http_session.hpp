#pragma once

#include <array>
#include <memory>
#include <optional>

#include "gateway/beast.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/net.hpp"

namespace stratus::gateway {

class gateway;

/// One HTTP/1.1 connection: static files from web/, POST /auth/dev-token,
/// /{stage}/@connections/{id}, and the WebSocket upgrade at /{stage}, which
/// hands the socket to a websocket_session.
class http_session : public std::enable_shared_from_this<http_session> {
public:
    /// `slot` is the connection's place under the per-IP cap (held until the socket is gone).
    http_session(tcp::socket&& socket, gateway& owner, std::unique_ptr<connection_limiter::ticket> slot);

    void run();

private:
    using request = http::request<http::string_body>;
    using response = http::response<http::string_body>;

    void do_read();
    void on_header(beast::error_code ec, std::size_t bytes);
    void on_read(beast::error_code ec, std::size_t bytes);
    void on_write(bool keep_alive, beast::error_code ec, std::size_t bytes);
    void linger();
    void on_linger(beast::error_code ec, std::size_t bytes);
    void send(response res);

    response handle(request const& req);
    response connections_api(request const& req, std::string_view raw_id);
    response dev_token(request const& req);
    response static_file(request const& req);
    response simple(request const& req, http::status status, std::string body,
                    std::string_view content_type = "application/json");

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    gateway& gateway_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::unique_ptr<connection_limiter::ticket> slot_;
    std::array<char, 4096> discard_{};
    std::size_t lingered_bytes_ = 0;
};

} // namespace stratus::gateway
