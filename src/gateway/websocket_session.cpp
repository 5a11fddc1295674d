#include "gateway/websocket_session.hpp"

#include <chrono>
#include <iostream>

#include "core/apigw_event.hpp"
#include "core/protocol.hpp"
#include "core/validation.hpp"
#include "gateway/query_string.hpp"

namespace stratus::gateway {
namespace {

// API Gateway's error frames: note the space after the first colon only.
std::string gateway_error_frame(std::string_view message, std::string_view connection_id,
                                std::string_view request_id)
{
    std::string frame = R"({"message": ")";
    frame += message;
    frame += R"(", "connectionId":")";
    frame += connection_id;
    frame += R"(", "requestId":")";
    frame += request_id;
    frame += R"("})";
    return frame;
}

} // namespace

websocket_session::websocket_session(beast::tcp_stream&& stream, gateway& owner,
                                     std::unique_ptr<connection_limiter::ticket> slot)
    : ws_(owner.options().max_frame_bytes, std::move(stream)), gateway_(owner),
      invoke_strand_(owner.make_worker_strand()), timer_(ws_.get_executor()), slot_(std::move(slot)),
      rate_(owner.options().rate_per_second, owner.options().rate_burst)
{
}

websocket_session::~websocket_session() = default;

std::int64_t websocket_session::now_ms() const
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void websocket_session::run(http::request<http::string_body> request)
{
    request_ = std::move(request);
    auto& stream = beast::get_lowest_layer(ws_);
    beast::error_code ec;
    auto const remote = stream.socket().remote_endpoint(ec);
    auto const local = stream.socket().local_endpoint(ec);

    auto const& options = gateway_.options();
    context_.connection_id = gateway_.new_connection_id();
    context_.connected_at_ms = now_ms();
    context_.source_ip = remote.address().to_string();
    context_.user_agent = std::string(request_[http::field::user_agent]);
    context_.host = std::string(request_[http::field::host]);
    context_.domain_name = gateway_.domain_name();
    context_.stage = options.stage;
    context_.api_id = options.api_id;
    last_active_ms_ = context_.connected_at_ms;

    handshake_info handshake;
    handshake.local_port = local.port();
    for (auto const& field : request_) {
        handshake.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    auto const target = std::string_view(request_.target().data(), request_.target().size());
    if (auto const q = target.find('?'); q != std::string_view::npos) {
        // Percent-decoded, as API Gateway passes them to $connect.
        handshake.query = query_string::parse(target.substr(q + 1));
    }

    // The handshake is held until $connect answers (aws-semantics §1.2).
    beast::get_lowest_layer(ws_).expires_after(options.handshake_timeout);
    auto const connect_route = gateway_.routes().find("$connect");
    if (!connect_route) {
        on_connect_result(std::string(R"({"statusCode":200})")); // no $connect route: accepted
        return;
    }
    if (connect_route->integration == integration_kind::unavailable) {
        on_connect_result(fail(errc::internal, "the $connect integration is unavailable"));
        return;
    }
    auto const request_id = event_builder::make_id();
    auto event = event_builder::connect_event(context_, handshake, request_id, context_.connected_at_ms);
    gateway_.invoke(invoke_strand_, std::move(event),
                    [self = shared_from_this()](result<std::string> response) {
                        net::post(self->ws_.get_executor(), [self, response = std::move(response)]() mutable {
                            self->on_connect_result(std::move(response));
                        });
                    });
}

void websocket_session::on_connect_result(result<std::string> response)
{
    if (!response) {
        // The integration failed: API Gateway answers the handshake with a 5xx.
        return refuse(http::status::internal_server_error);
    }
    auto parsed = parse_proxy_response(*response);
    if (!parsed) {
        return refuse(http::status::bad_gateway);
    }
    if (parsed->status_code < 200) {
        return refuse(http::status::bad_gateway); // 1xx is not a valid $connect answer
    }
    if (parsed->status_code > 299) {
        return refuse(static_cast<http::status>(parsed->status_code));
    }
    if (gateway_.stopping()) {
        return refuse(http::status::service_unavailable);
    }

    // Only Sec-WebSocket-Protocol from the $connect response reaches the client.
    std::string protocol;
    for (auto const& [name, value] : parsed->headers) {
        if (beast::iequals(name, "Sec-WebSocket-Protocol")) {
            protocol = value;
        }
    }
    auto const& options = gateway_.options();
    ws_.set_option(websocket::stream_base::decorator([protocol](websocket::response_type& res) {
        res.set(http::field::server, "Stratus");
        if (!protocol.empty()) {
            res.set(http::field::sec_websocket_protocol, protocol);
        }
    }));
    // Keep-alive pings detect peers that vanished without a close frame.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = options.handshake_timeout;
    timeouts.idle_timeout = options.keepalive_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(options.max_message_bytes);
    ws_.auto_fragment(true);
    ws_.write_buffer_bytes(options.max_frame_bytes);
    beast::get_lowest_layer(ws_).expires_never();

    // From here on the connection exists for @connections.
    accepting_sends_ = true;
    gateway_.add(context_.connection_id, shared_from_this());
    ws_.async_accept(request_, beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
}

void websocket_session::refuse(http::status status)
{
    auto res = std::make_shared<http::response<http::string_body>>(status, request_.version());
    res->set(http::field::server, "Stratus");
    res->set(http::field::content_type, "application/json");
    res->body() = std::string(R"({"message":")") + std::string(http::obsolete_reason(status)) + "\"}";
    res->keep_alive(false);
    res->prepare_payload();
    auto& stream = beast::get_lowest_layer(ws_);
    stream.expires_after(std::chrono::seconds(5));
    http::async_write(stream, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        beast::error_code ignored;
        beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
}

void websocket_session::on_accept(beast::error_code ec)
{
    if (ec) {
        // The handshake failed after $connect succeeded: the connection
        // existed, so $disconnect runs.
        on_closed(1006, "");
        return;
    }
    open_ = true;
    arm_timer();
    if (!queue_.empty()) {
        do_write();
    }
    do_read();
}

void websocket_session::do_read()
{
    ws_.async_read(buffer_, beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
}

void websocket_session::on_read(beast::error_code ec, std::size_t)
{
    if (ec) {
        if (ec == websocket::error::closed) {
            auto const& reason = ws_.reason();
            if (server_close_code_) {
                return on_closed(*server_close_code_, server_close_reason_);
            }
            return on_closed(reason.code == websocket::close_code::none ? 1005
                                                                        : static_cast<int>(reason.code),
                             std::string(reason.reason.c_str()));
        }
        if (server_close_code_) {
            return on_closed(*server_close_code_, server_close_reason_);
        }
        // Beast failed the connection and sent the matching close frame.
        if (ec == websocket::error::message_too_big) {
            return on_closed(1009, "Message too big");
        }
        if (ec == websocket::error::bad_frame_payload) {
            return on_closed(1007, "Invalid UTF-8");
        }
        if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) {
            return on_closed(1002, "Protocol error");
        }
        return on_closed(1006, ""); // vanished or keep-alive timeout
    }
    if (ws_.next_layer().oversized()) {
        buffer_.consume(buffer_.size());
        return start_close(websocket::close_code::too_big, "Frame too big");
    }
    if (ws_.got_binary()) {
        buffer_.consume(buffer_.size());
        return start_close(websocket::close_code::unknown_data, "Binary frames are not supported");
    }
    last_active_ms_ = now_ms();
    auto body = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    // Beast checks UTF-8 while it reads payload bytes; a message whose last
    // fragment is empty and cuts a character short slips past that check.
    if (!is_valid_utf8(body)) {
        return start_close(websocket::close_code::bad_payload, "Invalid UTF-8");
    }
    if (over_rate_limit(body)) {
        return; // closing with 1008
    }
    do_read();
}

bool websocket_session::over_rate_limit(std::string const& body)
{
    if (rate_.try_take(now_ms())) {
        refused_in_a_row_ = 0;
        on_message(body);
        return false;
    }
    // Refused before routing: no integration runs, nothing is stored. A
    // client that ignores the answer and keeps flooding is disconnected.
    if (++refused_in_a_row_ >= gateway_.options().rate_abuse_frames) {
        start_close(websocket::close_code::policy_error, "Rate limit exceeded");
        return true;
    }
    auto const retry = std::to_string(rate_.retry_after_ms());
    on_send(std::make_shared<std::string const>(
        error_frame(errc::throttled, "Too many requests: slow down and retry after " + retry + " ms",
                    peek_echo(body), event_builder::make_id())));
    return false;
}

void websocket_session::on_message(std::string body)
{
    auto const request_id = event_builder::make_id();
    auto const selected = gateway_.routes().select(body);
    if (!selected) {
        // No matching route and no $default.
        on_send(std::make_shared<std::string const>(
            gateway_error_frame("Forbidden", context_.connection_id, request_id)));
        return;
    }
    if (selected->integration == integration_kind::unavailable) {
        send_error_frame("Internal server error", request_id);
        return;
    }
    auto event = event_builder::message_event(context_, selected->key, body, request_id,
                                              event_builder::make_id(), now_ms());
    gateway_.invoke(invoke_strand_, std::move(event),
                    [self = shared_from_this(), route_response = selected->route_response,
                     request_id](result<std::string> response) mutable {
                        net::post(self->ws_.get_executor(), [self, route_response, request_id,
                                                             response = std::move(response)]() mutable {
                            self->on_integration_result(route_response, request_id, std::move(response));
                        });
                    });
}

void websocket_session::on_integration_result(bool route_response, std::string const& request_id,
                                              result<std::string> response)
{
    if (!response) {
        std::cerr << "stratus: integration failed for " << context_.connection_id << ": "
                  << response.error().detail << "\n";
        return send_error_frame("Internal server error", request_id);
    }
    auto parsed = parse_proxy_response(*response);
    if (!parsed) {
        std::cerr << "stratus: malformed integration response: " << parsed.error().detail << "\n";
        return send_error_frame("Internal server error", request_id);
    }
    // The body goes to the client whatever the status, when the route has a route response.
    if (route_response && parsed->body && !parsed->body->empty()) {
        on_send(std::make_shared<std::string const>(std::move(*parsed->body)));
    }
}

void websocket_session::send_error_frame(std::string_view message, std::string const& request_id)
{
    on_send(std::make_shared<std::string const>(
        gateway_error_frame(message, context_.connection_id, request_id)));
}

bool websocket_session::send(std::shared_ptr<std::string const> frame)
{
    if (!accepting_sends_) {
        return false;
    }
    net::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)]() mutable {
        self->on_send(std::move(frame));
    });
    return true;
}

void websocket_session::on_send(std::shared_ptr<std::string const> frame)
{
    if (closed_ || server_close_code_) {
        return;
    }
    if (queued_bytes_ + frame->size() > gateway_.options().max_send_queue_bytes) {
        // A reader this slow would delay nobody else, but would hold memory: drop it.
        std::cerr << "stratus: send queue of " << context_.connection_id << " exceeded "
                  << gateway_.options().max_send_queue_bytes << " bytes; closing it\n";
        return abort();
    }
    queued_bytes_ += frame->size();
    queue_.push_back(std::move(frame));
    if (open_ && queue_.size() == 1) {
        do_write();
    }
}

void websocket_session::do_write()
{
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
}

void websocket_session::on_write(beast::error_code ec, std::size_t)
{
    if (ec) {
        return; // the read side sees the failure and runs $disconnect
    }
    queued_bytes_ -= queue_.front()->size();
    queue_.pop_front();
    if (!queue_.empty() && !closed_) {
        do_write();
    }
}

void websocket_session::close(std::uint16_t code, std::string reason)
{
    net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
        self->start_close(code, std::move(reason));
    });
}

void websocket_session::start_close(std::uint16_t code, std::string reason)
{
    if (closed_ || server_close_code_) {
        return;
    }
    server_close_code_ = code;
    server_close_reason_ = reason;
    accepting_sends_ = false;
    if (!open_) {
        return abort();
    }
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                    [self = shared_from_this()](beast::error_code ec) {
                        if (ec) {
                            self->abort();
                        }
                        // The closing handshake is over (or failed). A close started in
                        // on_read has no read pending that would report the end, so end
                        // the session here: registry, $disconnect, connection slot.
                        // on_closed() runs once, whichever path gets there first.
                        self->on_closed(self->server_close_code_.value_or(1006), self->server_close_reason_);
                    });
}

void websocket_session::abort()
{
    accepting_sends_ = false;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
    if (!open_ && !closed_) {
        on_closed(server_close_code_.value_or(1006), server_close_reason_);
    }
}

void websocket_session::arm_timer()
{
    auto const& options = gateway_.options();
    auto const idle_deadline = last_active_ms_.load() + options.idle_timeout.count();
    auto const cap_deadline = context_.connected_at_ms + options.max_connection_duration.count();
    auto const deadline = std::min(idle_deadline, cap_deadline);
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, deadline - now_ms())));
    timer_.async_wait(beast::bind_front_handler(&websocket_session::on_timer, shared_from_this()));
}

void websocket_session::on_timer(beast::error_code ec)
{
    if (ec || closed_ || server_close_code_) {
        return;
    }
    auto const& options = gateway_.options();
    auto const now = now_ms();
    bool const capped = now >= context_.connected_at_ms + options.max_connection_duration.count();
    bool const idle = now >= last_active_ms_.load() + options.idle_timeout.count();
    if (capped || idle) {
        return start_close(websocket::close_code::going_away, "Going away");
    }
    arm_timer();
}

void websocket_session::on_closed(int code, std::string reason)
{
    if (closed_) {
        return;
    }
    closed_ = true;
    accepting_sends_ = false;
    timer_.cancel();
    gateway_.remove(context_.connection_id);
    queue_.clear();
    queued_bytes_ = 0;
    auto const disconnect_route = gateway_.routes().find("$disconnect");
    if (!disconnect_route || disconnect_route->integration == integration_kind::unavailable) {
        return; // nothing to run (or nothing that can run): $disconnect is best effort anyway
    }
    // $disconnect runs after the close; its response is ignored.
    auto event = event_builder::disconnect_event(context_, code, reason, event_builder::make_id(), now_ms());
    gateway_.invoke(invoke_strand_, std::move(event),
                    [self = shared_from_this()](result<std::string> response) {
                        if (!response) {
                            std::cerr << "stratus: $disconnect failed for " << self->context_.connection_id
                                      << ": " << response.error().detail << "\n";
                        }
                    });
}

websocket_session::info_snapshot websocket_session::info() const
{
    return info_snapshot{context_.connected_at_ms, last_active_ms_.load(), context_.source_ip,
                         context_.user_agent};
}

} // namespace stratus::gateway
