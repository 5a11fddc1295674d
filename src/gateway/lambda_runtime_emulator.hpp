#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "gateway/integration.hpp"
#include "gateway/net.hpp"

namespace stratus::gateway {

/// How `stratus dev --lambda PATH` runs the function.
struct lambda_options {
    /// The executable Lambda would start ($LAMBDA_TASK_ROOT/bootstrap).
    std::filesystem::path bootstrap;
    /// LAMBDA_TASK_ROOT and the working directory (default: bootstrap's folder).
    std::filesystem::path task_root;
    /// Instances at most (Lambda's concurrency); each runs one invocation at a time.
    int max_instances = 4;
    /// The function timeout: an invocation still running after it is failed and
    /// its instance killed, as Lambda does.
    std::chrono::milliseconds timeout{29000};
    /// Time an instance may take from exec to its first `next` (Lambda's init phase: 10 s).
    std::chrono::milliseconds init_timeout{10000};
    std::string function_name = "stratus";
    std::string region = "us-east-1";
    int memory_mb = 256;
    /// Log each instance's init duration (exec -> first GET next) on standard error.
    bool log_init = true;
    /// The function's environment variables (its configuration), on top of the
    /// variables Lambda itself sets. Nothing else of the gateway's environment
    /// is passed on, as on Lambda.
    std::vector<std::pair<std::string, std::string>> environment;
};

/// Counters for tests and logs.
struct lambda_stats {
    std::int64_t instances_started = 0;
    std::int64_t instances_exited = 0;
    std::int64_t invocations = 0;
    std::int64_t timeouts = 0;
    /// Init duration of the latest instance: exec to its first GET next, in microseconds.
    std::int64_t last_init_us = 0;
};

/// The integration that runs the handler out of process, as Lambda runs a
/// custom runtime: an emulated Lambda Runtime API (2018-06-01: invocation/next,
/// /response, /error, /init/error; the reference's headers, status codes and
/// error bodies) per instance on 127.0.0.1, and the `bootstrap` started with a
/// Lambda-shaped environment. One invocation at a time per instance; more
/// instances (up to max_instances) for concurrency; an instance that exits or
/// crashes is replaced on the next invoke; an invocation past the timeout is
/// failed and its instance killed. The event bytes are exactly those the
/// in-process integration gets. See docs/lambda.md.
class lambda_runtime_emulator final : public integration {
public:
    /// Checks the options and starts the first instance, waiting until it asks
    /// for work: a bootstrap that cannot start (missing, not executable, init
    /// error) fails here with its reason instead of at the first message.
    static result<std::unique_ptr<lambda_runtime_emulator>> start(lambda_options options);

    ~lambda_runtime_emulator() override;
    lambda_runtime_emulator(lambda_runtime_emulator const&) = delete;
    lambda_runtime_emulator& operator=(lambda_runtime_emulator const&) = delete;

    // integration
    result<std::string> invoke(std::string const& event_json) override;

    /// Stops every instance (SIGKILL, as Lambda ends a sandbox) and the Runtime API servers.
    void stop();

    [[nodiscard]] lambda_stats stats() const;

    struct instance;
    struct pending;

private:
    explicit lambda_runtime_emulator(lambda_options options);

    result<std::shared_ptr<instance>> spawn();
    void serve(std::shared_ptr<instance> inst);
    void serve_connection(std::shared_ptr<instance> const& inst, tcp::socket& socket);
    void reap();
    void kill_instance(instance& inst);

    lambda_options options_;
    std::string function_arn_;

    // This mutex synchronizes everything below it; changed_ is notified on any change.
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::shared_ptr<instance>> instances_;
    std::vector<std::thread> threads_;
    lambda_stats stats_;
    int next_instance_id_ = 1;
    bool stopping_ = false;
    std::thread reaper_;
};

} // namespace stratus::gateway
