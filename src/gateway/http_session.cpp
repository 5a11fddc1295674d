#include "gateway/http_session.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gateway/event_builder.hpp"
#include "gateway/gateway.hpp"
#include "gateway/query_string.hpp"
#include "gateway/static_files.hpp"
#include "gateway/websocket_session.hpp"

namespace stratus::gateway {
namespace {

using json = nlohmann::json;

std::string message_json(std::string_view message)
{
    return json{{"message", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

http_session::http_session(tcp::socket&& socket, gateway& owner,
                           std::unique_ptr<connection_limiter::ticket> slot)
    : stream_(std::move(socket)), gateway_(owner), slot_(std::move(slot))
{
}

void http_session::run()
{
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read()
{
    parser_.emplace();
    // Room for a 128 KiB @connections payload plus slack; larger bodies get 413.
    parser_->body_limit(gateway_.options().max_post_bytes + 64 * 1024);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(gateway_.options().handshake_timeout);
    // The header first: a body is read only once the header says how it is framed.
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&http_session::on_header, shared_from_this()));
}

void http_session::on_header(beast::error_code ec, std::size_t bytes)
{
    if (ec) {
        return on_read(ec, bytes);
    }
    // Nothing here takes a chunked body: @connections clients (the AWS SDKs)
    // send Content-Length, and an upgrade or GET has no body. Refusing any
    // Transfer-Encoding also keeps request smuggling and Beast's chunk parser
    // out of reach.
    if (parser_->get().find(http::field::transfer_encoding) != parser_->get().end()) {
        request req;
        req.version(11);
        auto res = simple(req, http::status::length_required,
                          message_json("Transfer-Encoding is not supported; send Content-Length"));
        res.keep_alive(false);
        return send(std::move(res));
    }
    if (parser_->is_done()) {
        return on_read(ec, bytes);
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t)
{
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
    }
    if (ec == http::error::body_limit) {
        request req;
        req.version(11);
        auto res = simple(req, http::status::payload_too_large, message_json("Request entity too large"));
        res.set("x-amzn-ErrorType", "PayloadTooLargeException");
        res.keep_alive(false);
        return send(std::move(res));
    }
    if (ec) {
        // Malformed request line or headers: answer 400 and close.
        request req;
        req.version(11);
        auto res = simple(req, http::status::bad_request, message_json("Bad request: " + ec.message()));
        res.keep_alive(false);
        return send(std::move(res));
    }

    auto req = parser_->release();
    auto const target = std::string_view(req.target().data(), req.target().size());
    auto const stage_path = "/" + gateway_.options().stage;
    auto const path = target.substr(0, target.find('?'));

    if (websocket::is_upgrade(req)) {
        if (path != stage_path) {
            auto res = simple(req, http::status::forbidden, message_json("Forbidden"));
            res.keep_alive(false);
            return send(std::move(res));
        }
        // Cross-site WebSocket hijacking: a browser page from another origin
        // is refused before $connect runs (origin_policy).
        auto const origin = req.find(http::field::origin);
        auto const origin_value = origin == req.end()
                                      ? std::string_view{}
                                      : std::string_view(origin->value().data(), origin->value().size());
        if (!gateway_.origins().allows(origin_value, origin != req.end(), req[http::field::host])) {
            auto res = simple(req, http::status::forbidden, message_json("Forbidden: origin not allowed"));
            res.keep_alive(false);
            return send(std::move(res));
        }
        // The socket now belongs to the WebSocket session, which runs $connect
        // before completing (or refusing) the handshake.
        stream_.expires_never();
        std::make_shared<websocket_session>(std::move(stream_), gateway_, std::move(slot_))
            ->run(std::move(req));
        return;
    }
    send(handle(req));
}

http_session::response http_session::handle(request const& req)
{
    auto const target = std::string_view(req.target().data(), req.target().size());
    if (target.size() > 4096) {
        return simple(req, http::status::uri_too_long, message_json("URI too long"));
    }
    auto const path = target.substr(0, target.find('?'));
    auto const prefix = "/" + gateway_.options().stage + "/@connections/";
    if (path.substr(0, prefix.size()) == prefix) {
        return connections_api(req, path.substr(prefix.size()));
    }
    // SDKs percent-encode '@' as %40 in the management API path.
    auto const encoded_prefix = "/" + gateway_.options().stage + "/%40connections/";
    if (path.substr(0, encoded_prefix.size()) == encoded_prefix) {
        return connections_api(req, path.substr(encoded_prefix.size()));
    }
    if (path == "/auth/dev-token") {
        return dev_token(req);
    }
    if (path == "/healthz") {
        return simple(req, http::status::ok, R"({"status":"ok"})");
    }
    return static_file(req);
}

http_session::response http_session::connections_api(request const& req, std::string_view raw_id)
{
    auto with_type = [](response res, std::string_view type) {
        res.set("x-amzn-ErrorType", type);
        return res;
    };
    // API Gateway requires SigV4 on @connections; like DynamoDB emulators we
    // accept any well-formed Authorization header but insist on one.
    auto const auth = req[http::field::authorization];
    if (auth.substr(0, 17) != "AWS4-HMAC-SHA256 ") {
        return with_type(simple(req, http::status::forbidden, message_json("Missing Authentication Token")),
                         "MissingAuthenticationTokenException");
    }
    auto decoded = query_string::percent_decode(raw_id);
    if (!decoded) {
        return with_type(simple(req, http::status::bad_request, message_json("Invalid connectionId")),
                         "BadRequestException");
    }
    std::string const& id = *decoded;
    if (!event_builder::is_well_formed_id(id)) {
        return with_type(simple(req, http::status::bad_request, message_json("Invalid connectionId: " + id)),
                         "BadRequestException");
    }
    auto session = gateway_.find(id);
    auto gone = [&] {
        auto res = simple(req, http::status::gone, "{}");
        res.set("x-amzn-ErrorType", "GoneException");
        return res;
    };
    switch (req.method()) {
    case http::verb::post: {
        if (req.body().size() > gateway_.options().max_post_bytes) {
            return with_type(simple(req, http::status::payload_too_large,
                                    message_json("Request data exceeds the 131072-byte limit")),
                             "PayloadTooLargeException");
        }
        if (!session || !session->send(std::make_shared<std::string const>(req.body()))) {
            return gone();
        }
        return simple(req, http::status::ok, "");
    }
    case http::verb::get: {
        if (!session) {
            return gone();
        }
        auto const info = session->info();
        json body{{"connectedAt", event_builder::iso8601(info.connected_at_ms)},
                  {"lastActiveAt", event_builder::iso8601(info.last_active_ms)},
                  {"identity", {{"sourceIp", info.source_ip}, {"userAgent", info.user_agent}}}};
        return simple(req, http::status::ok, body.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    case http::verb::delete_: {
        if (!session) {
            return gone();
        }
        session->close(1001, "Going away");
        auto res = simple(req, http::status::no_content, "");
        res.erase(http::field::content_type);
        return res;
    }
    default:
        return with_type(simple(req, http::status::forbidden, message_json("Forbidden")),
                         "ForbiddenException");
    }
}

http_session::response http_session::dev_token(request const& req)
{
    auto* issuer = gateway_.tokens();
    if (issuer == nullptr) {
        return simple(req, http::status::not_found, message_json("dev tokens are disabled"));
    }
    if (req.method() != http::verb::post) {
        auto res = simple(req, http::status::method_not_allowed, message_json("use POST"));
        res.set(http::field::allow, "POST");
        return res;
    }
    auto const doc = json::parse(req.body(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("name") || !doc["name"].is_string()) {
        return simple(
            req, http::status::bad_request,
            json{{"error", "invalid_request"}, {"message", R"(body must be {"name":"<display name>"})"}}
                .dump());
    }
    auto token = issuer->issue(doc["name"].get<std::string>());
    if (!token) {
        auto const status = token.error().code == errc::invalid_request ? http::status::bad_request
                                                                        : http::status::internal_server_error;
        return simple(
            req, status,
            json{{"error", std::string(to_string(token.error().code))}, {"message", token.error().detail}}
                .dump(-1, ' ', false, json::error_handler_t::replace));
    }
    json body{{"token", token->token},
              {"userId", token->user_id},
              {"name", token->name},
              {"expiresAt", token->expires_at_s}};
    auto res = simple(req, http::status::ok, body.dump(-1, ' ', false, json::error_handler_t::replace));
    res.set(http::field::cache_control, "no-store");
    return res;
}

http_session::response http_session::static_file(request const& req)
{
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        auto res = simple(req, http::status::method_not_allowed, message_json("Method not allowed"));
        res.set(http::field::allow, "GET, HEAD");
        return res;
    }
    auto const target = std::string_view(req.target().data(), req.target().size());
    auto file = static_files::resolve(gateway_.options().web_root, target.substr(0, target.find('?')));
    if (!file) {
        return simple(req,
                      file.error().code == errc::invalid_request ? http::status::bad_request
                                                                 : http::status::not_found,
                      "Not found\n", "text/plain; charset=utf-8");
    }
    auto const etag = static_files::etag(*file);
    if (!etag.empty() && req[http::field::if_none_match] == etag) {
        auto res = simple(req, http::status::not_modified, "");
        res.erase(http::field::content_type);
        res.set(http::field::etag, etag);
        res.set(http::field::cache_control, static_files::cache_control(*file));
        return res;
    }
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
        return simple(req, http::status::not_found, "Not found\n", "text/plain; charset=utf-8");
    }
    std::ostringstream content;
    content << in.rdbuf();
    auto res = simple(req, http::status::ok, content.str(), static_files::content_type(*file));
    res.set(http::field::cache_control, static_files::cache_control(*file));
    if (!etag.empty()) {
        res.set(http::field::etag, etag);
    }
    if (req.method() == http::verb::head) {
        res.content_length(res.body().size());
        res.body().clear();
    }
    return res;
}

http_session::response http_session::simple(request const& req, http::status status, std::string body,
                                            std::string_view content_type)
{
    response res{status, req.version()};
    res.set(http::field::server, "Stratus");
    if (!body.empty() || status != http::status::no_content) {
        res.set(http::field::content_type, content_type);
    }
    res.set("X-Content-Type-Options", "nosniff");
    for (auto const& [name, value] : static_files::security_headers()) {
        res.set(name, value);
    }
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

void http_session::send(response res)
{
    auto const keep_alive = res.keep_alive();
    auto shared = std::make_shared<response>(std::move(res));
    http::async_write(stream_, *shared,
                      [self = shared_from_this(), shared, keep_alive](beast::error_code ec, std::size_t n) {
                          self->on_write(keep_alive, ec, n);
                      });
}

void http_session::on_write(bool keep_alive, beast::error_code ec, std::size_t)
{
    if (ec) {
        return;
    }
    if (!keep_alive) {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return linger();
    }
    do_read();
}

// A lingering close: after a last response (often a refusal), the peer may
// still be sending the request. Closing with unread bytes makes the kernel
// answer them with a reset, which can destroy the response before the client
// has read it. So read and discard until the peer closes, for at most 1 s and
// 64 KiB, then close.
void http_session::linger()
{
    stream_.expires_after(std::chrono::seconds(1));
    stream_.async_read_some(net::buffer(discard_),
                            beast::bind_front_handler(&http_session::on_linger, shared_from_this()));
}

void http_session::on_linger(beast::error_code ec, std::size_t bytes)
{
    lingered_bytes_ += bytes;
    if (ec || lingered_bytes_ >= 64 * 1024) {
        return; // the session ends: the socket closes
    }
    stream_.async_read_some(net::buffer(discard_),
                            beast::bind_front_handler(&http_session::on_linger, shared_from_this()));
}

} // namespace stratus::gateway
