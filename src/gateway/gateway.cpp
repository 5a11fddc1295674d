#include "gateway/gateway.hpp"

#include <iostream>
#include <thread>

#include "gateway/beast.hpp"
#include "gateway/event_builder.hpp"
#include "gateway/listener.hpp"
#include "gateway/websocket_session.hpp"

namespace stratus::gateway {
namespace {

/// The address clients of this machine reach the listener at: the bound one,
/// or loopback when it is bound to every address.
std::string own_domain_name(tcp::endpoint const& bound)
{
    auto address = bound.address();
    if (address.is_unspecified()) {
        address = address.is_v6() ? net::ip::address(net::ip::address_v6::loopback())
                                  : net::ip::address(net::ip::address_v4::loopback());
    }
    std::string out;
    if (address.is_v6()) {
        out.append(1, '[').append(address.to_string()).append(1, ']');
    } else {
        out = address.to_string();
    }
    out.append(1, ':').append(std::to_string(bound.port()));
    return out;
}

} // namespace

gateway::gateway(gateway_options options, route_table routes, dev_token_issuer* tokens)
    : options_(std::move(options)), routes_(std::move(routes)), tokens_(tokens),
      limiter_(options_.max_connections_per_ip, options_.max_connections), origins_(options_.allowed_origins),
      workers_(static_cast<std::size_t>(std::max(1, options_.worker_threads))),
      ioc_(std::max(1, options_.io_threads))
{
}

gateway::~gateway()
{
    workers_.join();
}

result<tcp::endpoint> gateway::listen()
{
    beast::error_code ec;
    auto const address = net::ip::make_address(options_.host, ec);
    if (ec) {
        return fail(errc::invalid_request, "invalid --host '" + options_.host + "': " + ec.message());
    }
    if (!options_.domain_name.empty() && !event_builder::is_domain_name(options_.domain_name)) {
        return fail(errc::invalid_request,
                    "invalid domain name '" + options_.domain_name + "': expected host[:port]");
    }
    listener_ = std::make_shared<listener>(ioc_, *this);
    auto bound = listener_->open(tcp::endpoint{address, options_.port});
    if (!bound) {
        return bound;
    }
    domain_name_ = options_.domain_name.empty() ? own_domain_name(*bound) : options_.domain_name;
    listener_->run();
    signals_.emplace(ioc_, SIGINT, SIGTERM);
    signals_->async_wait([this](beast::error_code const& error, int) {
        if (!error) {
            shutdown();
        }
    });
    return bound;
}

bool gateway::run()
{
    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) {
        threads.emplace_back([this] { ioc_.run(); });
    }
    ioc_.run();
    for (auto& t : threads) {
        t.join();
    }
    return drain_workers();
}

bool gateway::drain_workers()
{
    // Let in-flight handler calls ($disconnect events) finish, within the grace.
    std::unique_lock lock(calls_mutex_);
    if (!calls_done_.wait_for(lock, options_.shutdown_grace, [this] { return in_flight_ == 0; })) {
        std::cerr << "stratus: " << in_flight_ << " handler call(s) still running "
                  << std::chrono::duration<double>(options_.shutdown_grace).count()
                  << " s after the sessions closed (a store or function that does not answer?); exiting "
                     "without them. Their connections' records stay until the next start (SQLite) or "
                     "their TTL (DynamoDB).\n"
                  << std::flush;
        return false;
    }
    lock.unlock();
    workers_.join();
    return true;
}

void gateway::call_finished()
{
    std::lock_guard lock(calls_mutex_);
    if (--in_flight_ == 0) {
        calls_done_.notify_all();
    }
}

void gateway::shutdown()
{
    if (stopping_.exchange(true)) {
        return;
    }
    net::post(ioc_, [this] {
        if (listener_) {
            listener_->stop();
        }
        if (signals_) {
            signals_->cancel();
        }
        std::vector<std::shared_ptr<websocket_session>> live;
        {
            std::lock_guard lock(mutex_);
            for (auto const& [id, weak] : sessions_) {
                if (auto session = weak.lock()) {
                    live.push_back(std::move(session));
                }
            }
        }
        for (auto const& session : live) {
            session->close(1001, "Going away");
        }
        // Give sessions up to 2 s to close cleanly, then stop the loop.
        wait_for_sessions(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    });
}

void gateway::wait_for_sessions(std::chrono::steady_clock::time_point deadline)
{
    bool empty = false;
    {
        std::lock_guard lock(mutex_);
        empty = sessions_.empty();
    }
    if (empty || std::chrono::steady_clock::now() >= deadline) {
        ioc_.stop();
        return;
    }
    auto timer = std::make_shared<net::steady_timer>(ioc_, std::chrono::milliseconds(20));
    timer->async_wait([this, timer, deadline](beast::error_code const&) { wait_for_sessions(deadline); });
}

std::vector<push_status> gateway::push(std::span<push_target const> targets, std::string_view payload)
{
    // Only connections held by this gateway; the endpoint is for routing pushers.
    std::vector<push_status> statuses(targets.size(), push_status::gone);
    std::vector<std::pair<std::size_t, std::shared_ptr<websocket_session>>> sessions;
    sessions.reserve(targets.size());
    {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < targets.size(); ++i) {
            auto const it = sessions_.find(targets[i].connection_id);
            if (it != sessions_.end()) {
                if (auto session = it->second.lock()) {
                    sessions.emplace_back(i, std::move(session));
                }
            }
        }
    }
    // One immutable buffer shared by every recipient: no per-recipient copy.
    auto const frame = std::make_shared<std::string const>(payload);
    for (auto& [index, session] : sessions) {
        statuses[index] = session->send(frame) ? push_status::sent : push_status::gone;
    }
    return statuses;
}

void gateway::invoke(worker_strand& strand, std::string event, std::function<void(result<std::string>)> done)
{
    {
        std::lock_guard lock(calls_mutex_);
        ++in_flight_;
    }
    net::post(strand, [this, event = std::move(event), done = std::move(done)]() mutable {
        if (integration_ == nullptr) {
            done(fail(errc::internal, "no integration configured"));
        } else {
            done(integration_->invoke(event));
        }
        call_finished();
    });
}

gateway::worker_strand gateway::make_worker_strand()
{
    return net::make_strand(workers_.get_executor());
}

std::string gateway::new_connection_id()
{
    std::lock_guard lock(mutex_);
    for (;;) {
        auto id = event_builder::make_id();
        if (sessions_.find(id) == sessions_.end()) {
            return id;
        }
    }
}

void gateway::add(std::string const& id, std::shared_ptr<websocket_session> const& session)
{
    std::lock_guard lock(mutex_);
    sessions_[id] = session;
}

void gateway::remove(std::string const& id)
{
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
}

std::shared_ptr<websocket_session> gateway::find(std::string const& id)
{
    std::lock_guard lock(mutex_);
    auto const it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second.lock();
}

} // namespace stratus::gateway
