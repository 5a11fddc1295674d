#include "adapters/aws/beast_http_client.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <variant>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>

namespace stratus::aws {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

/// The TLS context of a client: made on its first TLS connection, not at
/// create(), and shared by every client that trusts the same CA file (below).
struct beast_http_client::tls_state {
    std::string ca_file;
    std::mutex mutex;
    std::shared_ptr<ssl::context> context;
};

/// One TCP (or TLS) connection with its own I/O context: operations are
/// asynchronous underneath so that the stream's timers can bound them, and
/// run to completion before send() returns.
struct beast_http_client::connection {
    net::io_context ioc;
    std::variant<std::monostate, beast::tcp_stream, beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;
    bool reused = false;

    beast::tcp_stream& tcp()
    {
        if (auto* plain = std::get_if<beast::tcp_stream>(&stream)) {
            return *plain;
        }
        return beast::get_lowest_layer(std::get<beast::ssl_stream<beast::tcp_stream>>(stream));
    }

    /// Runs the queued asynchronous work to completion.
    void run()
    {
        ioc.restart();
        ioc.run();
    }
};

namespace {

result<http_response> transport_error(std::string what, beast::error_code const& ec)
{
    return fail(errc::unavailable, what + ": " + ec.message());
}

/// One client TLS context per CA file for the whole process. Parsing a system
/// bundle (about 140 certificates) takes some 15 ms: paid once, on the first
/// TLS connection, instead of per client and in a Lambda function's init
/// phase (docs/lambda.md, "cold start").
result<std::shared_ptr<ssl::context>> shared_tls_context(std::string const& ca_file)
{
    static std::mutex mutex;
    static std::map<std::string, std::weak_ptr<ssl::context>> contexts;
    std::lock_guard lock(mutex);
    if (auto existing = contexts[ca_file].lock()) {
        return existing;
    }
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    beast::error_code ec;
    if (ca_file.empty()) {
        context->set_default_verify_paths(ec);
    } else {
        context->load_verify_file(ca_file, ec);
    }
    if (ec) {
        return fail(errc::unavailable, "cannot load trusted CA certificates" +
                                           (ca_file.empty() ? std::string{} : " from " + ca_file) + ": " +
                                           ec.message());
    }
    context->set_verify_mode(ssl::verify_peer);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    contexts[ca_file] = context;
    return context;
}

} // namespace

result<std::unique_ptr<beast_http_client>> beast_http_client::create(endpoint target,
                                                                     http_client_options options)
{
    std::unique_ptr<tls_state> tls;
    if (target.tls) {
        // The file must be there now (a configuration error); it is parsed lazily.
        if (!options.ca_file.empty() && ::access(options.ca_file.c_str(), R_OK) != 0) {
            return fail(errc::invalid_request, "cannot load trusted CA certificates from " + options.ca_file +
                                                   ": " + std::strerror(errno));
        }
        tls = std::make_unique<tls_state>();
        tls->ca_file = options.ca_file;
    }
    return std::unique_ptr<beast_http_client>(
        new beast_http_client(std::move(target), options, std::move(tls)));
}

beast_http_client::beast_http_client(endpoint target, http_client_options options,
                                     std::unique_ptr<tls_state> tls)
    : target_(std::move(target)), options_(options), tls_(std::move(tls))
{
}

beast_http_client::~beast_http_client() = default;

std::size_t beast_http_client::connections_opened() const
{
    std::lock_guard lock(mutex_);
    return opened_;
}

result<std::unique_ptr<beast_http_client::connection>> beast_http_client::open()
{
    auto conn = std::make_unique<connection>();
    beast::error_code ec;

    // Resolve and connect, bounded by the connect timeout.
    tcp::resolver resolver(conn->ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(target_.host, std::to_string(target_.port),
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                               ec = e;
                               endpoints = std::move(r);
                           });
    conn->run();
    if (ec) {
        return fail(errc::unavailable, "cannot resolve " + target_.host + ": " + ec.message());
    }
    beast::tcp_stream tcp_stream(conn->ioc);
    tcp_stream.expires_after(options_.connect_timeout);
    tcp_stream.async_connect(endpoints, [&](beast::error_code e, tcp::endpoint const&) { ec = e; });
    conn->run();
    if (ec) {
        return fail(errc::unavailable, "cannot connect to " + target_.host + ":" +
                                           std::to_string(target_.port) + ": " + ec.message());
    }
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);

    if (!tls_) {
        conn->stream.emplace<beast::tcp_stream>(std::move(tcp_stream));
    } else {
        std::shared_ptr<ssl::context> context;
        {
            std::lock_guard lock(tls_->mutex);
            if (!tls_->context) {
                auto made = shared_tls_context(tls_->ca_file);
                if (!made) {
                    return tl::unexpected(made.error());
                }
                tls_->context = std::move(*made);
            }
            context = tls_->context;
        }
        auto& tls =
            conn->stream.emplace<beast::ssl_stream<beast::tcp_stream>>(std::move(tcp_stream), *context);
        // SNI, and the certificate must name the host.
        // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
        if (SSL_ctrl(tls.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(target_.host.c_str())) != 1) {
            return fail(errc::unavailable, "cannot set TLS server name " + target_.host);
        }
        tls.set_verify_callback(ssl::host_name_verification(target_.host));
        beast::get_lowest_layer(tls).expires_after(options_.connect_timeout);
        tls.async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
        conn->run();
        if (ec) {
            return fail(errc::unavailable, "TLS handshake with " + target_.host + " failed: " + ec.message());
        }
    }
    {
        std::lock_guard lock(mutex_);
        ++opened_;
    }
    return conn;
}

result<http_response> beast_http_client::exchange(connection& conn, http_request const& request,
                                                  bool& nothing_received)
{
    nothing_received = true;
    http::request<http::string_body> req;
    auto const verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
        return fail(errc::invalid_request, "unknown HTTP method " + request.method);
    }
    req.method(verb);
    req.target(request.target);
    req.version(11);
    for (auto const& [name, value] : request.headers) {
        req.set(name, value);
    }
    if (!request.header("Host")) {
        req.set(http::field::host, target_.host_header());
    }
    req.keep_alive(true);
    req.body() = request.body;
    req.prepare_payload();

    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::error_code ec;
    bool headers_seen = false;

    if (options_.request_timeout.count() > 0) {
        conn.tcp().expires_after(options_.request_timeout);
    } else {
        conn.tcp().expires_never();
    }
    auto on_read = [&](beast::error_code e, std::size_t) { ec = e; };
    auto on_write = [&](beast::error_code e, std::size_t) {
        ec = e;
        if (e) {
            return;
        }
        auto read = [&](auto& stream) { http::async_read(stream, conn.buffer, parser, on_read); };
        std::visit(
            [&](auto& stream) {
                if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>) {
                    read(stream);
                }
            },
            conn.stream);
    };
    std::visit(
        [&](auto& stream) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(stream)>, std::monostate>) {
                http::async_write(stream, req, on_write);
            }
        },
        conn.stream);
    conn.run();
    headers_seen = parser.is_header_done();
    nothing_received = !headers_seen && conn.buffer.size() == 0;
    if (ec) {
        if (ec == beast::error::timeout) {
            return fail(errc::unavailable, "request to " + target_.host + " timed out");
        }
        return transport_error("request to " + target_.host + " failed", ec);
    }

    auto res = parser.release();
    http_response out;
    out.status = static_cast<int>(res.result_int());
    for (auto const& field : res) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (!res.keep_alive()) {
        conn.reused = false;
        beast::error_code ignored;
        conn.tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        conn.stream.emplace<std::monostate>(); // not reusable
    }
    return out;
}

result<http_response> beast_http_client::send(http_request const& request)
{
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::unique_ptr<connection> conn;
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                conn = std::move(idle_.back());
                idle_.pop_back();
                conn->reused = true;
            }
        }
        if (!conn) {
            auto opened = open();
            if (!opened) {
                return tl::unexpected(opened.error());
            }
            conn = std::move(*opened);
        }
        bool nothing_received = true;
        auto response = exchange(*conn, request, nothing_received);
        if (!response) {
            // A reused keep-alive connection that the server had already closed:
            // nothing was received, so send once more on a fresh connection.
            if (conn->reused && nothing_received && attempt == 0) {
                continue;
            }
            return response;
        }
        if (!std::holds_alternative<std::monostate>(conn->stream)) {
            std::lock_guard lock(mutex_);
            if (idle_.size() < options_.max_idle_connections) {
                idle_.push_back(std::move(conn));
            }
        }
        return response;
    }
    return fail(errc::unavailable, "request to " + target_.host + " failed on a fresh connection");
}

} // namespace stratus::aws
