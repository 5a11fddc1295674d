#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ports/pusher.hpp"
#include "core/result.hpp"
#include "gateway/connection_limiter.hpp"
#include "gateway/dev_token_issuer.hpp"
#include "gateway/gateway_options.hpp"
#include "gateway/integration.hpp"
#include "gateway/net.hpp"
#include "gateway/origin_policy.hpp"
#include "gateway/route_table.hpp"

namespace stratus::gateway {

class websocket_session;
class listener;

/// The emulated API Gateway WebSocket API (Beast chat-multi's shared_state):
/// owns the I/O context and the handler worker pool, keeps the live
/// connections by id, invokes the integration, and implements the pusher port
/// so the in-process handler posts to connections directly.
class gateway final : public stratus::pusher {
public:
    gateway(gateway_options options, route_table routes, dev_token_issuer* tokens);
    ~gateway() override;
    gateway(gateway const&) = delete;
    gateway& operator=(gateway const&) = delete;

    /// Sets the backend; must be called before listen().
    void set_integration(integration& backend) { integration_ = &backend; }

    /// Binds and starts accepting; returns the bound endpoint (port 0 -> chosen port).
    [[nodiscard]] result<tcp::endpoint> listen();

    /// Runs the I/O threads until shutdown() (or SIGINT/SIGTERM), then waits
    /// up to options().shutdown_grace for the handler calls still running.
    /// Returns false when some were still running then: the caller must end
    /// the process without destroying the gateway (std::_Exit), as a crash
    /// would; their connections' records stay until the next start purges
    /// them (SQLite) or their TTL (DynamoDB).
    [[nodiscard]] bool run();

    /// Stops accepting, closes every connection (1001) and ends run(). Thread-safe.
    void shutdown();

    // pusher
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override;

    /// Runs the integration on the worker pool, serialised per `strand`, then
    /// calls `done` there.
    using worker_strand = net::strand<net::thread_pool::executor_type>;
    void invoke(worker_strand& strand, std::string event, std::function<void(result<std::string>)> done);
    [[nodiscard]] worker_strand make_worker_strand();

    // Connection registry (all thread-safe).
    [[nodiscard]] std::string new_connection_id();
    void add(std::string const& id, std::shared_ptr<websocket_session> const& session);
    void remove(std::string const& id);
    [[nodiscard]] std::shared_ptr<websocket_session> find(std::string const& id);

    [[nodiscard]] gateway_options const& options() const { return options_; }
    /// requestContext.domainName, fixed by listen() (gateway_options::domain_name).
    [[nodiscard]] std::string const& domain_name() const { return domain_name_; }
    [[nodiscard]] route_table const& routes() const { return routes_; }
    [[nodiscard]] dev_token_issuer* tokens() const { return tokens_; }
    [[nodiscard]] connection_limiter& limiter() { return limiter_; }
    [[nodiscard]] origin_policy const& origins() const { return origins_; }
    [[nodiscard]] bool stopping() const { return stopping_.load(); }

private:
    void wait_for_sessions(std::chrono::steady_clock::time_point deadline);
    void call_finished();
    /// Waits for in-flight handler calls up to the shutdown grace; true when none is left.
    bool drain_workers();

    gateway_options options_;
    std::string domain_name_;
    route_table routes_;
    dev_token_issuer* tokens_;
    integration* integration_ = nullptr;
    std::atomic<bool> stopping_{false};

    // This mutex synchronizes in_flight_ (handler calls posted, not finished).
    std::mutex calls_mutex_;
    std::condition_variable calls_done_;
    std::size_t in_flight_ = 0;

    // This mutex synchronizes all access to sessions_.
    std::mutex mutex_;
    std::unordered_map<std::string, std::weak_ptr<websocket_session>> sessions_;

    // Before the I/O context: sessions destroyed with it still hold tickets.
    connection_limiter limiter_;
    origin_policy origins_;

    // Declared last so they are destroyed first: pending handlers (which own
    // sessions) go away while the registry above still exists.
    net::thread_pool workers_;
    net::io_context ioc_;
    std::optional<net::signal_set> signals_;
    std::shared_ptr<listener> listener_;
};

} // namespace stratus::gateway
