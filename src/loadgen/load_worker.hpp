#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "loadgen/client_events.hpp"
#include "loadgen/delivery_tracker.hpp"

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stratus::loadgen {

struct run_plan;
class run_progress;

/// One I/O thread of the load generator: its own io_context, a share of the
/// clients, and the delivery tracker of those clients. The coordinating
/// thread drives it through the phases with the post_* calls (thread-safe;
/// the work runs on the worker's thread) and reads its results after stop().
class load_worker final : public client_events {
public:
    load_worker(run_plan const& plan, run_progress& progress, std::size_t clients);
    ~load_worker() override;

    load_worker(load_worker const&) = delete;
    load_worker& operator=(load_worker const&) = delete;

    /// Adds client `index` (before start()); it connects to `target` (path and query).
    void add_client(std::uint32_t index, std::string target);

    /// Starts the thread.
    void start();

    /// Connects every client, at most `concurrency` handshakes at a time.
    void post_connect(std::uint32_t concurrency);
    /// Sends `frame` (joinRoom) on every client; progress.joined counts the replies.
    void post_join(std::string frame);
    /// Senders start; rate schedules begin at steady-clock `start_ns`.
    void post_start_sending(std::int64_t start_ns);

    /// Closes every connection and joins the thread.
    void stop();

    /// The worker thread's id, once start() returned (for its CPU time).
    [[nodiscard]] int thread_id() const { return thread_id_.load(); }

    // Results; read after stop().
    [[nodiscard]] delivery_tracker const& tracker() const { return tracker_; }
    [[nodiscard]] std::int64_t max_send_lag_ns() const;
    [[nodiscard]] std::int64_t first_send_ns() const;

    // client_events (on the worker's thread)
    void on_open(ws_client& client) override;
    void on_connect_failed(ws_client& client, std::string const& why) override;
    void on_frame(ws_client& client, std::string_view frame, std::int64_t received_ns) override;
    void on_lost(ws_client& client, std::string const& why) override;
    void on_sender_done(ws_client& client) override;

private:
    void connect_next();
    void on_payload(ws_client& client, std::string_view text, std::int64_t received_ns);

    run_plan const& plan_;
    run_progress& progress_;
    std::unique_ptr<boost::asio::io_context> ioc_;
    std::thread thread_;
    std::atomic<int> thread_id_{0};
    std::vector<std::shared_ptr<ws_client>> clients_;
    std::vector<std::string> targets_;
    delivery_tracker tracker_;

    // Connect phase; touched on the worker's thread only.
    std::size_t next_connect_ = 0;
    std::uint32_t connecting_ = 0;
};

} // namespace stratus::loadgen
