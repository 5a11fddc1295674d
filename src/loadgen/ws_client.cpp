#include "loadgen/ws_client.hpp"

#include <algorithm>
#include <chrono>

#include "loadgen/client_events.hpp"
#include "loadgen/run_plan.hpp"
#include "loadgen/run_progress.hpp"

namespace stratus::loadgen {

ws_client::ws_client(net::io_context& ioc, run_plan const& plan, client_events& events, std::uint32_t index,
                     std::uint32_t local_index, std::optional<std::uint32_t> sender)
    : ws_(ioc), plan_(plan), events_(events), index_(index), local_index_(local_index), sender_(sender),
      timer_(ioc)
{
}

void ws_client::connect(tcp::endpoint const& endpoint, std::string target)
{
    beast::get_lowest_layer(ws_).async_connect(
        endpoint, [self = shared_from_this(), target = std::move(target)](beast::error_code ec) mutable {
            self->on_connect(std::move(target), ec);
        });
}

void ws_client::on_connect(std::string target, beast::error_code ec)
{
    if (ec) {
        return events_.on_connect_failed(*this, "connect: " + ec.message());
    }
    // Small frames must leave at once, as a browser's would.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), ignored);

    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = plan_.options.connect_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(http::field::user_agent, "stratus-loadgen"); }));
    // The mask only has to be unpredictable to intermediaries; loopback has none.
    ws_.secure_prng(false);
    ws_.auto_fragment(false);
    ws_.read_message_max(1024 * 1024);
    auto const host = plan_.target.host + ":" + std::to_string(plan_.target.port);
    ws_.async_handshake(host, target,
                        beast::bind_front_handler(&ws_client::on_handshake, shared_from_this()));
}

void ws_client::on_handshake(beast::error_code ec)
{
    if (ec) {
        return events_.on_connect_failed(*this, "WebSocket handshake: " + ec.message());
    }
    open_ = true;
    events_.on_open(*this);
    do_read();
    do_write();
}

void ws_client::do_read()
{
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_client::on_read, shared_from_this()));
}

void ws_client::on_read(beast::error_code ec, std::size_t)
{
    if (ec) {
        open_ = false;
        if (!closing_) {
            events_.on_lost(*this, "read: " + ec.message());
        }
        return;
    }
    auto const received_ns = steady_now_ns();
    auto const data = buffer_.cdata();
    events_.on_frame(*this, std::string_view(static_cast<char const*>(data.data()), data.size()),
                     received_ns);
    buffer_.consume(buffer_.size());
    do_read();
}

void ws_client::send_control(std::string frame)
{
    control_.push_back(std::move(frame));
    do_write();
}

void ws_client::start_sending(std::int64_t start_ns)
{
    if (!sender_ || plan_.options.messages == 0) {
        return;
    }
    sending_ = true;
    start_ns_ = start_ns;
    if (plan_.interval_ns == 0) {
        // Closed loop: the window opens at once, each ack opens one more slot.
        due_ = std::min(plan_.options.window, plan_.options.messages);
        do_write();
    } else {
        arm_rate_timer();
    }
}

void ws_client::arm_rate_timer()
{
    // Absolute schedule (start + k * interval), so a late tick does not shift later ones.
    auto const at_ns = start_ns_ + static_cast<std::int64_t>(due_) * plan_.interval_ns;
    timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(at_ns)));
    timer_.async_wait(beast::bind_front_handler(&ws_client::on_rate_timer, shared_from_this()));
}

void ws_client::on_rate_timer(beast::error_code ec)
{
    if (ec || closing_) {
        return;
    }
    ++due_;
    do_write();
    if (due_ < plan_.options.messages) {
        arm_rate_timer();
    }
}

void ws_client::acknowledge()
{
    if (!sender_ || acked_ >= plan_.options.messages) {
        return;
    }
    ++acked_;
    if (plan_.interval_ns == 0 && due_ < plan_.options.messages) {
        ++due_;
        do_write();
    }
    finish_if_done();
}

void ws_client::do_write()
{
    if (write_in_flight_ || !open_ || closing_) {
        return;
    }
    if (!control_.empty()) {
        writing_ = std::move(control_.front());
        control_.pop_front();
    } else if (sending_ && started_ < due_) {
        // The text is built and stamped now, as the write starts.
        auto const index = started_++;
        auto const now_ns = steady_now_ns();
        if (first_send_ns_ == 0) {
            first_send_ns_ = now_ns;
        }
        if (plan_.interval_ns != 0) {
            auto const scheduled = start_ns_ + static_cast<std::int64_t>(index) * plan_.interval_ns;
            max_send_lag_ns_ = std::max(max_send_lag_ns_, now_ns - scheduled);
        }
        if (plan_.options.protocol == wire_protocol::floor) {
            plan_.codec.encode(writing_, *sender_, index, now_ns);
        } else {
            std::string text;
            plan_.codec.encode(text, *sender_, index, now_ns);
            writing_.clear();
            writing_.append(R"({"action":"sendMessage","room":")")
                .append(plan_.room)
                .append(R"(","clientMsgId":")")
                .append(plan_.codec.nonce())
                .append("-")
                .append(std::to_string(*sender_))
                .append("-")
                .append(std::to_string(index))
                .append(R"(","text":")")
                .append(text)
                .append(R"("})");
        }
    } else {
        return;
    }
    write_in_flight_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(writing_),
                    beast::bind_front_handler(&ws_client::on_write, shared_from_this()));
}

void ws_client::on_write(beast::error_code ec, std::size_t)
{
    write_in_flight_ = false;
    if (ec) {
        // The read side reports the lost connection.
        return;
    }
    if (sending_ && written_ < started_) {
        // Control frames are only queued before sending starts, so this was a message.
        ++written_;
        finish_if_done();
    }
    do_write();
}

void ws_client::finish_if_done()
{
    if (done_ || !sender_) {
        return;
    }
    auto const messages = plan_.options.messages;
    bool const done = plan_.interval_ns == 0 ? acked_ >= messages : written_ >= messages;
    if (done) {
        done_ = true;
        events_.on_sender_done(*this);
    }
}

void ws_client::close()
{
    closing_ = true;
    open_ = false;
    timer_.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).close(ignored);
}

} // namespace stratus::loadgen
