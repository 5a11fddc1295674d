#include "loadgen/load_worker.hpp"

#include <algorithm>

#include "loadgen/beast.hpp"
#include "loadgen/net.hpp"
#include "loadgen/process_stats.hpp"
#include "loadgen/run_plan.hpp"
#include "loadgen/run_progress.hpp"
#include "loadgen/stratus_frame.hpp"
#include "loadgen/ws_client.hpp"

namespace stratus::loadgen {

load_worker::load_worker(run_plan const& plan, run_progress& progress, std::size_t clients)
    : plan_(plan), progress_(progress), ioc_(std::make_unique<net::io_context>(1)),
      tracker_(static_cast<std::size_t>(plan.messages_total()), clients)
{
    clients_.reserve(clients);
    targets_.reserve(clients);
}

load_worker::~load_worker()
{
    stop();
}

void load_worker::add_client(std::uint32_t index, std::string target)
{
    std::optional<std::uint32_t> sender;
    if (index < plan_.options.senders) {
        sender = index;
    }
    auto const local = static_cast<std::uint32_t>(clients_.size());
    clients_.push_back(std::make_shared<ws_client>(*ioc_, plan_, *this, index, local, sender));
    targets_.push_back(std::move(target));
}

void load_worker::start()
{
    std::atomic<bool> started{false};
    thread_ = std::thread([this, &started] {
        thread_id_ = process_stats::current_thread_id();
        started = true;
        auto guard = net::make_work_guard(*ioc_);
        ioc_->run();
    });
    while (!started) {
        std::this_thread::yield();
    }
}

void load_worker::post_connect(std::uint32_t concurrency)
{
    net::post(*ioc_, [this, concurrency] {
        for (std::uint32_t i = 0; i < std::max(1U, concurrency); ++i) {
            connect_next();
        }
    });
}

void load_worker::connect_next()
{
    if (next_connect_ >= clients_.size()) {
        return;
    }
    auto const i = next_connect_++;
    ++connecting_;
    beast::error_code ec;
    auto const address = net::ip::make_address(plan_.target.host, ec);
    clients_[i]->connect(tcp::endpoint(address, plan_.target.port), targets_[i]);
}

void load_worker::on_open(ws_client&)
{
    --connecting_;
    progress_.connected.fetch_add(1);
    connect_next();
}

void load_worker::on_connect_failed(ws_client& client, std::string const& why)
{
    --connecting_;
    progress_.fail("client " + std::to_string(client.index()) + ": " + why);
    connect_next();
}

void load_worker::on_lost(ws_client& client, std::string const& why)
{
    // During the setup this ends the run; during the measurement it is counted.
    progress_.disconnects.fetch_add(1);
    progress_.fail("client " + std::to_string(client.index()) + " lost its connection: " + why);
}

void load_worker::on_sender_done(ws_client&)
{
    progress_.senders_done.fetch_add(1);
}

void load_worker::post_join(std::string frame)
{
    net::post(*ioc_, [this, frame = std::move(frame)] {
        for (auto const& client : clients_) {
            client->send_control(frame);
        }
    });
}

void load_worker::post_start_sending(std::int64_t start_ns)
{
    net::post(*ioc_, [this, start_ns] {
        for (auto const& client : clients_) {
            client->start_sending(start_ns);
        }
    });
}

void load_worker::on_frame(ws_client& client, std::string_view frame, std::int64_t received_ns)
{
    progress_.last_frame_ns.store(received_ns, std::memory_order_relaxed);
    if (plan_.options.protocol == wire_protocol::floor) {
        return on_payload(client, frame, received_ns);
    }
    auto const fields = stratus_frame::scan(frame);
    if (fields.type == "message") {
        return on_payload(client, fields.text, received_ns);
    }
    if (fields.type == "ack") {
        progress_.acks.fetch_add(1, std::memory_order_relaxed);
        progress_.last_progress_ns.store(received_ns, std::memory_order_relaxed);
        return client.acknowledge();
    }
    if (fields.type == "joined") {
        if (!client.joined()) {
            client.mark_joined();
            progress_.joined.fetch_add(1);
        }
        return;
    }
    if (fields.type == "error" || fields.type.empty()) {
        progress_.error_frame(std::string(frame.substr(0, 300)));
        if (!client.joined()) {
            progress_.fail("joinRoom failed: " + std::string(frame.substr(0, 300)));
        } else if (!fields.client_msg_id.empty()) {
            // A refused send is never delivered nor acked: count it as answered so the sender goes on.
            progress_.refused.fetch_add(1);
            progress_.last_progress_ns.store(received_ns, std::memory_order_relaxed);
            client.acknowledge();
        }
        return;
    }
    // presence, typing, ...: not measured.
}

void load_worker::on_payload(ws_client& client, std::string_view text, std::int64_t received_ns)
{
    auto const payload = plan_.codec.decode(text);
    if (!payload || payload->sender >= plan_.options.senders || payload->index >= plan_.options.messages) {
        progress_.malformed.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    auto const message = static_cast<std::size_t>(payload->sender) * plan_.options.messages +
                         static_cast<std::size_t>(payload->index);
    bool const first =
        tracker_.record(message, client.local_index(), received_ns - payload->sent_ns, received_ns);
    if (!first) {
        return;
    }
    progress_.deliveries.fetch_add(1, std::memory_order_relaxed);
    progress_.last_progress_ns.store(received_ns, std::memory_order_relaxed);
    // The floor server has no acks: a sender's own echo is its acknowledgement.
    if (plan_.options.protocol == wire_protocol::floor && client.sender() == payload->sender) {
        client.acknowledge();
    }
}

void load_worker::stop()
{
    if (!thread_.joinable()) {
        return;
    }
    net::post(*ioc_, [this] {
        for (auto const& client : clients_) {
            client->close();
        }
        ioc_->stop();
    });
    thread_.join();
}

std::int64_t load_worker::max_send_lag_ns() const
{
    std::int64_t lag = 0;
    for (auto const& client : clients_) {
        lag = std::max(lag, client->max_send_lag_ns());
    }
    return lag;
}

std::int64_t load_worker::first_send_ns() const
{
    std::int64_t first = 0;
    for (auto const& client : clients_) {
        auto const t = client->first_send_ns();
        if (t != 0 && (first == 0 || t < first)) {
            first = t;
        }
    }
    return first;
}

} // namespace stratus::loadgen
