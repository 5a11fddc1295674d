#include "gateway/lambda_runtime_emulator.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <random>

#include <nlohmann/json.hpp>

#include "gateway/beast.hpp"
#include "gateway/net.hpp"

namespace stratus::gateway {

namespace {

using namespace std::chrono_literals;

constexpr std::string_view api_prefix = "/2018-06-01/runtime/";
/// The Runtime API's payload limit (RIE: 6 MiB + 100 B).
constexpr std::size_t max_payload_bytes = 6 * 1024 * 1024 + 100;

std::int64_t epoch_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string random_hex(std::size_t digits)
{
    thread_local std::mt19937_64 engine{std::random_device{}()};
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(digits);
    for (std::size_t i = 0; i < digits; ++i) {
        out.push_back(hex[engine() & 0xF]);
    }
    return out;
}

/// A random (version 4) UUID, as Lambda's request ids are.
std::string request_uuid()
{
    auto h = random_hex(32);
    h[12] = '4';
    h[16] = "89ab"[static_cast<unsigned char>(h[16]) & 3];
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" +
           h.substr(20);
}

/// X-Ray's trace header format.
std::string trace_id()
{
    std::array<char, 16> seconds{};
    std::snprintf(seconds.data(), seconds.size(), "%08llx",
                  static_cast<unsigned long long>(epoch_ms() / 1000));
    return "Root=1-" + std::string(seconds.data()) + "-" + random_hex(24) + ";Parent=" + random_hex(16) +
           ";Sampled=0";
}

std::string error_json(std::string_view type, std::string_view message)
{
    return nlohmann::json{{"errorMessage", std::string(message)}, {"errorType", std::string(type)}}.dump();
}

void shutdown_fd(int fd)
{
    if (fd >= 0) {
        ::shutdown(fd, SHUT_RDWR);
    }
}

} // namespace

struct lambda_runtime_emulator::pending {
    std::string request_id;
    std::string event;
    std::int64_t deadline_ms = 0;
    bool sent = false;
    bool done = false;
    result<std::string> outcome;
};

enum class instance_state {
    starting, ///< exec'd, has not asked for work yet
    waiting,  ///< blocked in GET next: can take an invocation
    busy,     ///< has an invocation, or has answered one and not asked again
    dead,     ///< exited, killed or being stopped
};

struct lambda_runtime_emulator::instance {
    int id = 0;
    pid_t pid = -1;
    bool reaped = false;
    net::io_context io;
    tcp::acceptor acceptor{io};
    std::uint16_t port = 0;
    instance_state state = instance_state::starting;
    bool ever_waited = false;
    std::shared_ptr<pending> current;
    std::string init_error;
    std::string exit_reason;
    std::vector<int> fds;
    std::chrono::steady_clock::time_point spawned_at;
};

lambda_runtime_emulator::lambda_runtime_emulator(lambda_options options) : options_(std::move(options))
{
    function_arn_ = "arn:aws:lambda:" + options_.region + ":000000000000:function:" + options_.function_name;
}

result<std::unique_ptr<lambda_runtime_emulator>> lambda_runtime_emulator::start(lambda_options options)
{
    std::error_code ec;
    if (options.bootstrap.empty() || !std::filesystem::is_regular_file(options.bootstrap, ec)) {
        return fail(errc::invalid_request, "--lambda: no such file: " + options.bootstrap.string());
    }
    if (::access(options.bootstrap.c_str(), X_OK) != 0) {
        return fail(errc::invalid_request, "--lambda: not executable: " + options.bootstrap.string());
    }
    options.bootstrap = std::filesystem::absolute(options.bootstrap, ec);
    if (options.task_root.empty()) {
        options.task_root = options.bootstrap.parent_path();
    }
    options.max_instances = std::max(options.max_instances, 1);

    std::unique_ptr<lambda_runtime_emulator> emulator(new lambda_runtime_emulator(std::move(options)));
    emulator->reaper_ = std::thread([raw = emulator.get()] { raw->reap(); });

    // A first instance, so that a bootstrap that cannot start is reported now.
    std::unique_lock lock(emulator->mutex_);
    auto first = emulator->spawn();
    if (!first) {
        lock.unlock();
        emulator->stop();
        return tl::unexpected(first.error());
    }
    auto inst = *first;
    bool const ready = emulator->changed_.wait_for(lock, emulator->options_.init_timeout, [&] {
        return inst->ever_waited || inst->state == instance_state::dead;
    });
    if (!inst->ever_waited) {
        std::string reason = !inst->init_error.empty()    ? "init error: " + inst->init_error
                             : !inst->exit_reason.empty() ? inst->exit_reason
                             : !ready ? "no call to invocation/next within the init timeout"
                                      : "exited during init";
        lock.unlock();
        emulator->stop();
        return fail(errc::unavailable, "--lambda: the bootstrap did not start: " + reason);
    }
    return emulator;
}

lambda_runtime_emulator::~lambda_runtime_emulator()
{
    stop();
}

result<std::shared_ptr<lambda_runtime_emulator::instance>> lambda_runtime_emulator::spawn()
{
    auto inst = std::make_shared<instance>();
    inst->id = next_instance_id_++;
    beast::error_code ec;
    tcp::endpoint const local(net::ip::make_address("127.0.0.1"), 0);
    inst->acceptor.open(local.protocol(), ec);
    if (!ec) {
        inst->acceptor.bind(local, ec);
    }
    if (!ec) {
        inst->acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        return fail(errc::unavailable, "cannot open a Runtime API port: " + ec.message());
    }
    inst->port = inst->acceptor.local_endpoint().port();

    // The environment Lambda gives a provided.al2023 function (aws-semantics §3.2).
    auto const root = options_.task_root.string();
    std::vector<std::string> env = {
        "AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(inst->port),
        "AWS_LAMBDA_FUNCTION_NAME=" + options_.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(options_.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + options_.function_name,
        "AWS_LAMBDA_LOG_STREAM_NAME=local/[$LATEST]" + random_hex(32),
        "AWS_REGION=" + options_.region,
        "AWS_DEFAULT_REGION=" + options_.region,
        "_HANDLER=bootstrap",
        "LAMBDA_TASK_ROOT=" + root,
        "LAMBDA_RUNTIME_DIR=" + root,
        "TZ=:UTC",
        "LANG=en_US.UTF-8",
        "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    };
    // Credentials: the gateway's own if it has any, else well-formed dummies
    // (the local @connections API and DynamoDB-compatible servers accept any).
    auto from_env = [](char const* name, char const* fallback) {
        char const* value = std::getenv(name);
        return std::string(name) + "=" + ((value != nullptr && *value != '\0') ? value : fallback);
    };
    env.push_back(from_env("AWS_ACCESS_KEY_ID", "local"));
    env.push_back(from_env("AWS_SECRET_ACCESS_KEY", "local"));
    if (char const* token = std::getenv("AWS_SESSION_TOKEN"); token != nullptr && *token != '\0') {
        env.push_back(std::string("AWS_SESSION_TOKEN=") + token);
    }
    for (auto const& [name, value] : options_.environment) {
        // The function's variables come last and win over the defaults above.
        std::erase_if(env, [&](std::string const& entry) { return entry.starts_with(name + "="); });
        env.push_back(name + "=" + value);
    }
    std::vector<char*> envp;
    for (auto& entry : env) {
        envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    std::string program = options_.bootstrap.string();
    std::array<char*, 2> argv{program.data(), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addchdir_np(&actions, root.c_str());
    // Nothing but stdin/stdout/stderr: an inherited listening socket or client
    // connection would outlive the gateway and keep its peers waiting.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    // Own process group (a Ctrl-C to `stratus dev` must not kill the functions
    // before the gateway has sent their $disconnect events), default signal
    // dispositions and an empty mask, as a fresh sandbox has.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) {
        sigaddset(&defaults, sig);
    }
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    inst->spawned_at = std::chrono::steady_clock::now();
    int const rc = posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        return fail(errc::unavailable, "cannot start " + program + ": " + std::strerror(rc));
    }
    inst->pid = pid;
    ++stats_.instances_started;
    instances_.push_back(inst);
    threads_.emplace_back([this, inst] { serve(inst); });
    return inst;
}

result<std::string> lambda_runtime_emulator::invoke(std::string const& event_json)
{
    auto job = std::make_shared<pending>();
    job->request_id = request_uuid();
    job->event = event_json;

    std::unique_lock lock(mutex_);
    ++stats_.invocations;
    auto const acquire_deadline = std::chrono::steady_clock::now() + options_.init_timeout + options_.timeout;
    std::shared_ptr<instance> spawned; // the instance this invocation started, if any
    std::shared_ptr<instance> assigned;
    while (!assigned) {
        if (stopping_) {
            return fail(errc::unavailable, "the function is shutting down");
        }
        for (auto const& inst : instances_) {
            if (inst->state == instance_state::waiting && !inst->current) {
                assigned = inst;
                break;
            }
        }
        if (assigned) {
            break;
        }
        if (spawned && spawned->state == instance_state::dead && !spawned->ever_waited) {
            // The cold start this invocation waited for failed: Lambda fails the invoke.
            auto const reason = !spawned->init_error.empty() ? "Runtime.InitError: " + spawned->init_error
                                                             : "Runtime.ExitError: " + spawned->exit_reason;
            return fail(errc::unavailable, reason);
        }
        auto const alive = std::count_if(instances_.begin(), instances_.end(),
                                         [](auto const& i) { return i->state != instance_state::dead; });
        if (!spawned && alive < options_.max_instances) {
            auto started = spawn();
            if (!started) {
                return tl::unexpected(started.error());
            }
            spawned = *started;
        }
        if (changed_.wait_until(lock, acquire_deadline) == std::cv_status::timeout) {
            return fail(errc::unavailable, "no function instance became available");
        }
    }

    job->deadline_ms = epoch_ms() + options_.timeout.count();
    assigned->current = job;
    assigned->state = instance_state::busy;
    changed_.notify_all();

    if (!changed_.wait_for(lock, options_.timeout, [&] { return job->done; })) {
        ++stats_.timeouts;
        job->done = true;
        kill_instance(*assigned);
        changed_.notify_all();
        return fail(errc::unavailable, "Task timed out after " +
                                           std::to_string(options_.timeout.count() / 1000.0).substr(0, 5) +
                                           " seconds");
    }
    return std::move(job->outcome);
}

void lambda_runtime_emulator::kill_instance(instance& inst)
{
    // Called with mutex_ held.
    inst.state = instance_state::dead;
    if (inst.pid > 0 && !inst.reaped) {
        ::kill(inst.pid, SIGKILL);
    }
    shutdown_fd(inst.acceptor.native_handle());
    for (int fd : inst.fds) {
        shutdown_fd(fd);
    }
    if (inst.current && !inst.current->done) {
        inst.current->done = true;
        inst.current->outcome = fail(errc::unavailable, "Runtime.ExitError: the instance was stopped");
    }
}

void lambda_runtime_emulator::serve(std::shared_ptr<instance> inst)
{
    for (;;) {
        beast::error_code ec;
        tcp::socket socket(inst->io);
        inst->acceptor.accept(socket, ec);
        std::lock_guard lock(mutex_);
        if (ec || stopping_ || inst->state == instance_state::dead) {
            break;
        }
        inst->fds.push_back(socket.native_handle());
        threads_.emplace_back([this, inst, s = std::move(socket)]() mutable {
            serve_connection(inst, s);
            // Unregister before closing, so that a concurrent shutdown_fd never
            // touches a descriptor number the system has already reused.
            std::lock_guard guard(mutex_);
            std::erase(inst->fds, s.native_handle());
            beast::error_code ignored;
            s.close(ignored);
        });
    }
    // kill_instance() reads the acceptor's descriptor under the mutex: close it under it too.
    std::lock_guard lock(mutex_);
    beast::error_code ignored;
    inst->acceptor.close(ignored);
}

void lambda_runtime_emulator::serve_connection(std::shared_ptr<instance> const& inst, tcp::socket& socket)
{
    // Plain blocking HTTP/1.1: a Runtime API connection carries one request at
    // a time, and GET next blocks this thread until there is work.
    beast::error_code ec;
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_payload_bytes + 1024 * 1024);
        http::read(socket, buffer, parser, ec);
        if (ec == http::error::body_limit) {
            http::response<http::string_body> res{http::status::payload_too_large, 11};
            res.set(http::field::content_type, "application/json");
            res.body() =
                error_json("RequestEntityTooLarge", "Exceeded maximum allowed payload size (" +
                                                        std::to_string(max_payload_bytes) + " bytes).");
            res.keep_alive(false);
            res.prepare_payload();
            http::write(socket, res, ec);
            break;
        }
        if (ec) {
            break;
        }
        auto request = parser.release();
        std::string const target(request.target());
        http::response<http::string_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "application/json");
        std::shared_ptr<pending> sent_job;

        auto reply = [&](http::status status, std::string body) {
            res.result(status);
            res.body() = std::move(body);
        };

        if (!target.starts_with(api_prefix)) {
            reply(http::status::not_found, error_json("InvalidRequest", "unknown path " + target));
        } else if (auto const path = std::string_view(target).substr(api_prefix.size());
                   path == "invocation/next") {
            if (request.method() != http::verb::get) {
                reply(http::status::method_not_allowed, error_json("InvalidRequest", "use GET"));
            } else {
                std::unique_lock lock(mutex_);
                if (inst->current) {
                    reply(http::status::forbidden,
                          error_json("InvalidStateTransition",
                                     "State transition from Running to Ready failed for runtime: the current "
                                     "invocation has not been answered"));
                } else {
                    inst->state = instance_state::waiting;
                    if (!inst->ever_waited) {
                        auto const init_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                                 std::chrono::steady_clock::now() - inst->spawned_at)
                                                 .count();
                        stats_.last_init_us = init_us;
                        if (options_.log_init) {
                            // Lambda's REPORT line calls this "Init Duration".
                            std::fprintf(
                                stderr,
                                "stratus: lambda instance %d (pid %d) ready, Init Duration: %.2f ms\n",
                                inst->id, static_cast<int>(inst->pid), static_cast<double>(init_us) / 1000.0);
                        }
                    }
                    inst->ever_waited = true;
                    changed_.notify_all();
                    changed_.wait(lock, [&] {
                        return stopping_ || inst->state == instance_state::dead ||
                               (inst->current && !inst->current->sent);
                    });
                    if (stopping_ || inst->state == instance_state::dead) {
                        break; // no answer: the sandbox is gone
                    }
                    sent_job = inst->current;
                    sent_job->sent = true;
                    res.set("Lambda-Runtime-Aws-Request-Id", sent_job->request_id);
                    res.set("Lambda-Runtime-Deadline-Ms", std::to_string(sent_job->deadline_ms));
                    res.set("Lambda-Runtime-Invoked-Function-Arn", function_arn_);
                    res.set("Lambda-Runtime-Trace-Id", trace_id());
                    res.body() = sent_job->event;
                }
            }
        } else if (path == "init/error") {
            std::lock_guard lock(mutex_);
            auto parsed = nlohmann::json::parse(request.body(), nullptr, false);
            std::string type = "Runtime.Unknown";
            std::string message = request.body().substr(0, 512);
            if (parsed.is_object()) {
                if (auto t = parsed.find("errorType"); t != parsed.end() && t->is_string()) {
                    type = t->get<std::string>();
                }
                if (auto m = parsed.find("errorMessage"); m != parsed.end() && m->is_string()) {
                    message = m->get<std::string>();
                }
            }
            inst->init_error = type + ": " + message;
            changed_.notify_all();
            reply(http::status::accepted, R"({"status":"OK"})");
        } else if (path.starts_with("invocation/") &&
                   (path.ends_with("/response") || path.ends_with("/error")) &&
                   request.method() == http::verb::post) {
            bool const is_error = path.ends_with("/error");
            auto id = path.substr(std::string_view("invocation/").size());
            id = id.substr(0, id.rfind('/'));
            std::lock_guard lock(mutex_);
            if (!inst->current || !inst->current->sent || inst->current->request_id != id) {
                reply(http::status::bad_request, error_json("InvalidRequestID", "Invalid request ID"));
            } else if (request.body().size() > max_payload_bytes) {
                reply(http::status::payload_too_large,
                      error_json("RequestEntityTooLarge", "Exceeded maximum allowed payload size (" +
                                                              std::to_string(max_payload_bytes) +
                                                              " bytes)."));
            } else {
                auto job = inst->current;
                inst->current.reset();
                if (!job->done) {
                    job->done = true;
                    if (is_error) {
                        auto parsed = nlohmann::json::parse(request.body(), nullptr, false);
                        std::string type(request["Lambda-Runtime-Function-Error-Type"]);
                        std::string message;
                        if (parsed.is_object()) {
                            if (auto t = parsed.find("errorType"); t != parsed.end() && t->is_string()) {
                                type = t->get<std::string>();
                            }
                            if (auto m = parsed.find("errorMessage"); m != parsed.end() && m->is_string()) {
                                message = m->get<std::string>();
                            }
                        }
                        job->outcome =
                            fail(errc::internal,
                                 "function error " + (type.empty() ? "Unhandled" : type) + ": " + message);
                    } else {
                        job->outcome = std::move(request.body());
                    }
                }
                changed_.notify_all();
                reply(http::status::accepted, R"({"status":"OK"})");
            }
        } else {
            reply(http::status::not_found, error_json("InvalidRequest", "unknown path " + target));
        }

        res.keep_alive(request.keep_alive());
        res.prepare_payload();
        http::write(socket, res, ec);
        if (ec && sent_job) {
            std::lock_guard lock(mutex_);
            if (!sent_job->done) {
                sent_job->done = true;
                sent_job->outcome = fail(errc::unavailable, "lost the runtime's connection during next");
                changed_.notify_all();
            }
        }
        if (ec || !request.keep_alive()) {
            break;
        }
    }
}

void lambda_runtime_emulator::reap()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        for (auto const& inst : instances_) {
            if (inst->pid <= 0 || inst->reaped) {
                continue;
            }
            int status = 0;
            pid_t const done = ::waitpid(inst->pid, &status, WNOHANG);
            if (done != inst->pid) {
                continue;
            }
            inst->reaped = true;
            ++stats_.instances_exited;
            if (WIFSIGNALED(status)) {
                inst->exit_reason = "the runtime was killed by signal " + std::to_string(WTERMSIG(status));
            } else {
                inst->exit_reason = "the runtime exited with status " + std::to_string(WEXITSTATUS(status));
            }
            if (inst->current && !inst->current->done) {
                inst->current->done = true;
                inst->current->outcome = fail(errc::unavailable, "Runtime.ExitError: " + inst->exit_reason);
            }
            kill_instance(*inst);
        }
        std::erase_if(instances_, [](auto const& inst) { return inst->reaped; });
        changed_.notify_all();
        if (stopping_ && instances_.empty()) {
            return;
        }
        changed_.wait_for(lock, 20ms);
    }
}

void lambda_runtime_emulator::stop()
{
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !reaper_.joinable()) {
            return;
        }
        stopping_ = true;
        for (auto const& inst : instances_) {
            kill_instance(*inst);
        }
        changed_.notify_all();
    }
    if (reaper_.joinable()) {
        reaper_.join();
    }
    // Connection threads may still be starting; take the list once they cannot grow.
    {
        std::lock_guard lock(mutex_);
        threads.swap(threads_);
    }
    for (auto& thread : threads) {
        if (thread.joinable()) {
            thread.join();
        }
    }
}

lambda_stats lambda_runtime_emulator::stats() const
{
    std::lock_guard lock(mutex_);
    return stats_;
}

} // namespace stratus::gateway
