// Composition root of the local stack: reads the command line, builds the
// adapters, injects them into the chat core and runs the gateway.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "adapters/jwt/hs256_token_issuer.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "adapters/jwt/secret_file.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/system/stderr_logger.hpp"
#include "adapters/system/system_clock.hpp"
#include "app/jwt_dev_token_issuer.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "gateway/gateway.hpp"
#include "gateway/handler_integration.hpp"
#include "gateway/route_table.hpp"

namespace {

constexpr std::string_view token_issuer = "stratus-local";
constexpr std::string_view token_audience = "stratus";

struct dev_settings {
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string data_dir = "./data";
    std::string stage = "local";
    std::string web_root;
    std::string routes_file;
    double idle_timeout_s = 600;
    double max_duration_s = 7200;
    double keepalive_s = 30;
    int workers = 4;
    int io_threads = 1;
    std::string sync = "normal";
    std::int64_t token_lifetime_s = 7 * 24 * 3600;
    std::size_t max_send_queue_bytes = 4 * 1024 * 1024;
};

std::chrono::milliseconds millis(double seconds)
{
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

bool valid_stage(std::string const& stage)
{
    if (stage.empty() || stage.size() > 128) {
        return false;
    }
    for (char ch : stage) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-')) {
            return false;
        }
    }
    return true;
}

std::string default_web_root()
{
#ifdef STRATUS_SOURCE_WEB_ROOT
    if (std::filesystem::is_directory(STRATUS_SOURCE_WEB_ROOT)) {
        return STRATUS_SOURCE_WEB_ROOT;
    }
#endif
    return "web";
}

int fail_with(std::string const& message)
{
    std::cerr << "stratus: " << message << "\n";
    return 2;
}

int run_dev(dev_settings const& s)
{
    if (!valid_stage(s.stage)) {
        return fail_with("--stage must be 1-128 of [A-Za-z0-9_-]");
    }
    if (s.sync != "normal" && s.sync != "full") {
        return fail_with("--sync must be 'normal' or 'full'");
    }

    stratus::gateway::route_table routes = stratus::gateway::route_table::stratus_default();
    if (!s.routes_file.empty()) {
        std::ifstream in(s.routes_file);
        if (!in) {
            return fail_with("cannot read --routes file " + s.routes_file);
        }
        std::stringstream text;
        text << in.rdbuf();
        auto parsed = stratus::gateway::route_table::parse(text.str());
        if (!parsed) {
            return fail_with("--routes " + s.routes_file + ": " + parsed.error().detail);
        }
        routes = std::move(*parsed);
    }

    auto secret = stratus::load_or_create_secret(s.data_dir);
    if (!secret) {
        return fail_with(secret.error().detail);
    }
    stratus::sqlite_options store_options;
    store_options.synchronous_full = s.sync == "full";
    auto store = stratus::sqlite_store::open(std::filesystem::path(s.data_dir) / "stratus.db", store_options);
    if (!store) {
        return fail_with("cannot open the store: " + store.error().detail);
    }
    // No socket survives a restart: connections left by a crash are ghosts.
    if (auto purged = (*store)->purge_connections(); !purged) {
        return fail_with("cannot clear stale connections: " + purged.error().detail);
    }

    stratus::system_clock clock;
    stratus::hs256_token_verifier verifier(*secret, std::string(token_issuer), std::string(token_audience),
                                           clock);
    stratus::hs256_token_issuer issuer(*secret, std::string(token_issuer), std::string(token_audience));
    stratus::jwt_dev_token_issuer dev_tokens(*secret, issuer, clock, s.token_lifetime_s);

    stratus::gateway::gateway_options options;
    options.host = s.host;
    options.port = static_cast<std::uint16_t>(s.port);
    options.stage = s.stage;
    options.web_root = s.web_root.empty() ? default_web_root() : s.web_root;
    options.idle_timeout = millis(s.idle_timeout_s);
    options.max_connection_duration = millis(s.max_duration_s);
    options.keepalive_timeout = millis(s.keepalive_s);
    options.worker_threads = s.workers;
    options.io_threads = s.io_threads;
    options.max_send_queue_bytes = s.max_send_queue_bytes;

    stratus::gateway::gateway gateway(options, std::move(routes), &dev_tokens);
    stratus::stderr_logger log;
    stratus::chat_service service(**store, gateway, clock, verifier, {}, &log);
    stratus::handler handler(service);
    stratus::gateway::handler_integration integration(handler);
    gateway.set_integration(integration);

    auto endpoint = gateway.listen();
    if (!endpoint) {
        return fail_with(endpoint.error().detail);
    }
    auto const base = "http://" + s.host + ":" + std::to_string(endpoint->port());
    auto const ws = "ws://" + s.host + ":" + std::to_string(endpoint->port()) + "/" + s.stage;
    std::cout << "Stratus local stack ready at " << base << "/\n"
              << "  WebSocket:    " << ws << "?token=<JWT>\n"
              << "  Dev token:    curl -s -X POST " << base << "/auth/dev-token -d '{\"name\":\"alice\"}'\n"
              << "  @connections: " << base << "/" << s.stage << "/@connections/{connectionId}\n"
              << "  Data:         " << s.data_dir << " (SQLite, WAL, synchronous=" << s.sync << ")\n"
              << "  Web UI:       " << options.web_root.string() << "\n"
              << std::flush;
    gateway.run();
    std::cout << "Stratus stopped\n" << std::flush;
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"Stratus: real-time chat, serverless on AWS and whole on one machine"};
    app.require_subcommand(1);

    dev_settings settings;
    auto* dev = app.add_subcommand("dev", "Run the local stack: gateway, handlers, SQLite store and web UI");
    dev->add_option("--host", settings.host, "Address to listen on")->capture_default_str();
    dev->add_option("--port", settings.port, "Port (0 picks a free one)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    dev->add_option("--data-dir", settings.data_dir, "Directory for the SQLite file and the token secret")
        ->capture_default_str();
    dev->add_option("--stage", settings.stage, "Stage name: the WebSocket path is /{stage}")
        ->capture_default_str();
    dev->add_option("--web-root", settings.web_root,
                    "Directory served at / (default: the repository's web/)");
    dev->add_option("--routes", settings.routes_file, "Route table JSON (default: the Stratus routes)");
    dev->add_option("--idle-timeout", settings.idle_timeout_s,
                    "Seconds without a client data frame before close")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dev->add_option("--max-connection-duration", settings.max_duration_s,
                    "Seconds before a connection is closed")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dev->add_option("--keepalive", settings.keepalive_s, "Seconds of silence before a peer is pinged/dropped")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    dev->add_option("--workers", settings.workers, "Handler worker threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    dev->add_option("--io-threads", settings.io_threads, "I/O threads")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    dev->add_option("--sync", settings.sync,
                    "SQLite synchronous mode: normal (survives process crashes) or full "
                    "(also power loss)")
        ->capture_default_str();
    dev->add_option("--token-lifetime", settings.token_lifetime_s, "Lifetime of dev tokens in seconds")
        ->check(CLI::Range(std::int64_t{60}, stratus::hs256_token_issuer::max_lifetime_s))
        ->capture_default_str();

    dev->add_option("--max-send-queue-bytes", settings.max_send_queue_bytes,
                    "Bytes queued for a client that does not read before it is dropped")
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 30))
        ->capture_default_str();

    app.add_subcommand("version", "Print the version")->callback([] { std::cout << "stratus 0.1.0\n"; });

    CLI11_PARSE(app, argc, argv);
    if (dev->parsed()) {
        return run_dev(settings);
    }
    return 0;
}
