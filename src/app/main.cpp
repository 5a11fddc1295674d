// Composition root of the local stack: reads the command line, builds the
// adapters, injects them into the chat core and runs the gateway.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "adapters/apigw/apigw_connection_pusher.hpp"
#include "adapters/aws/beast_http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "adapters/dynamodb/dynamodb_client.hpp"
#include "adapters/dynamodb/dynamodb_store.hpp"
#include "adapters/dynamodb/dynamodb_tables.hpp"
#include "adapters/jwt/hs256_token_issuer.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "adapters/jwt/secret_file.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/system/stderr_logger.hpp"
#include "adapters/system/system_clock.hpp"
#include "app/jwt_dev_token_issuer.hpp"
#include "app/routing_pusher.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "gateway/gateway.hpp"
#include "gateway/handler_integration.hpp"
#include "gateway/lambda_runtime_emulator.hpp"
#include "gateway/route_table.hpp"
#include "loadgen/loadgen_command.hpp"

namespace {

constexpr std::string_view token_issuer = "stratus-local";
constexpr std::string_view token_audience = "stratus";

struct dev_settings {
    std::string host = "127.0.0.1";
    std::string domain_name;
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
    std::string dynamodb_endpoint;
    std::string table_prefix;
    std::string lambda_path;
    int lambda_concurrency = 0;
    double lambda_timeout_s = 10;
    int lambda_memory_mb = 256;
    std::vector<std::string> lambda_env;
    double handshake_timeout_s = 10;
    double shutdown_grace_s = 10;
    std::size_t max_connections_per_ip = 256;
    std::size_t max_connections = 16384;
    std::vector<std::string> allowed_origins;
    double rate_limit = 100;
    double rate_burst = 1000;
    int rate_abuse_frames = 100;
    double user_rate_limit = 100;
    double user_rate_burst = 1000;
};

struct tables_settings {
    std::string endpoint;
    std::string prefix;
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

/// AWS credentials and region from the environment; for a local
/// DynamoDB-compatible server any well-formed values do, so dummies stand in.
stratus::aws::aws_credentials local_credentials()
{
    auto credentials = stratus::aws::credentials_from_environment();
    return credentials ? *credentials : stratus::aws::aws_credentials{"local", "local", ""};
}

std::string local_region()
{
    auto region = stratus::aws::region_from_environment();
    return region ? *region : "us-east-1";
}

/// The pieces a DynamoDB client needs, kept alive together.
struct dynamodb_connection {
    std::unique_ptr<stratus::aws::beast_http_client> http;
    std::unique_ptr<stratus::aws::sigv4_signer> signer;
    std::unique_ptr<stratus::dynamodb::dynamodb_client> client;
};

stratus::result<dynamodb_connection> connect_dynamodb(std::string const& url)
{
    auto target = stratus::aws::endpoint::parse(url);
    if (!target) {
        return stratus::fail(stratus::errc::invalid_request,
                             "--dynamodb-endpoint must look like http(s)://host[:port]: " + url);
    }
    auto http = stratus::aws::beast_http_client::create(*target);
    if (!http) {
        return tl::unexpected(http.error());
    }
    dynamodb_connection connection;
    connection.http = std::move(*http);
    connection.signer =
        std::make_unique<stratus::aws::sigv4_signer>(local_credentials(), local_region(), "dynamodb");
    connection.client =
        std::make_unique<stratus::dynamodb::dynamodb_client>(*connection.http, *connection.signer, *target);
    return connection;
}

int run_tables_create(tables_settings const& s)
{
    auto dynamodb = connect_dynamodb(s.endpoint);
    if (!dynamodb) {
        return fail_with(dynamodb.error().detail);
    }
    if (auto created = stratus::dynamodb::create_tables(*dynamodb->client, s.prefix); !created) {
        return fail_with("cannot create the tables: " + created.error().detail);
    }
    auto const names = stratus::dynamodb::table_names::for_prefix(s.prefix);
    std::cout << "Tables ready: " << names.connections << ", " << names.messages << " (TTL on 'ttl')\n";
    return 0;
}

/// The function's environment for `--lambda`: what the bootstrap needs to use
/// this stack's store and dev tokens, then the user's --lambda-env overrides.
stratus::result<std::vector<std::pair<std::string, std::string>>> lambda_environment(dev_settings const& s)
{
    std::vector<std::pair<std::string, std::string>> env;
    auto const data_dir = std::filesystem::absolute(s.data_dir);
    env.emplace_back("STRATUS_AUTH", "dev");
    env.emplace_back("STRATUS_DEV_SECRET_FILE", (data_dir / "jwt-secret").string());
    if (s.dynamodb_endpoint.empty()) {
        env.emplace_back("STRATUS_SQLITE_PATH", (data_dir / "stratus.db").string());
    } else {
        auto const names = stratus::dynamodb::table_names::for_prefix(s.table_prefix);
        env.emplace_back("STRATUS_DYNAMODB_ENDPOINT", s.dynamodb_endpoint);
        env.emplace_back("STRATUS_CONNECTIONS_TABLE", names.connections);
        env.emplace_back("STRATUS_MESSAGES_TABLE", names.messages);
    }
    for (auto const& entry : s.lambda_env) {
        auto const eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            return stratus::fail(stratus::errc::invalid_request,
                                 "--lambda-env must be NAME=VALUE, got '" + entry + "'");
        }
        auto name = entry.substr(0, eq);
        for (char ch : name) {
            if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '_')) {
                return stratus::fail(stratus::errc::invalid_request,
                                     "--lambda-env: invalid variable name '" + name + "'");
            }
        }
        std::erase_if(env, [&](auto const& kv) { return kv.first == name; });
        env.emplace_back(std::move(name), entry.substr(eq + 1));
    }
    return env;
}

/// glibc returns the free top of a heap to the kernel (madvise) as soon as it
/// exceeds M_TRIM_THRESHOLD, 128 KiB by default. With the handler workers each
/// on their own arena, every message's SQLite statement freed enough to trim,
/// and each trim flushed the TLBs of every CPU (an IPI): 3.3 % of the
/// gateway's CPU in a room-10 profile (docs/benchmarks.md). Keep up to 32 MiB
/// of free heap per arena (one per thread that allocates, at most 8 per CPU)
/// instead. Setting the trim threshold also fixes the mmap threshold, which
/// would otherwise keep adapting; set it to 4 MiB so that 128 KiB @connections
/// bodies and history pages come from the heap, not a fresh mmap/munmap (the
/// same IPIs) each time. Live memory is unchanged; bench/run measures the RSS.
void keep_freed_heap()
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
#endif
}

int run_dev(dev_settings const& s)
{
    keep_freed_heap();
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

    // The store: SQLite in the data directory, or a DynamoDB-compatible server
    // that several gateways can share.
    std::unique_ptr<stratus::sqlite_store> sqlite;
    std::optional<dynamodb_connection> dynamodb;
    std::unique_ptr<stratus::dynamodb_store> dynamo_store;
    stratus::store* store = nullptr;
    std::string store_description;
    if (s.dynamodb_endpoint.empty()) {
        stratus::sqlite_options store_options;
        store_options.synchronous_full = s.sync == "full";
        auto opened =
            stratus::sqlite_store::open(std::filesystem::path(s.data_dir) / "stratus.db", store_options);
        if (!opened) {
            return fail_with("cannot open the store: " + opened.error().detail);
        }
        sqlite = std::move(*opened);
        // No socket survives a restart: connections left by a crash are ghosts.
        if (auto purged = sqlite->purge_connections(); !purged) {
            return fail_with("cannot clear stale connections: " + purged.error().detail);
        }
        store = sqlite.get();
        store_description = s.data_dir + " (SQLite, WAL, synchronous=" + s.sync + ")";
    } else {
        auto connected = connect_dynamodb(s.dynamodb_endpoint);
        if (!connected) {
            return fail_with(connected.error().detail);
        }
        dynamodb = std::move(*connected);
        if (auto created = stratus::dynamodb::create_tables(*dynamodb->client, s.table_prefix); !created) {
            return fail_with("cannot create the DynamoDB tables: " + created.error().detail);
        }
        stratus::dynamodb_store_options options;
        options.table_prefix = s.table_prefix;
        dynamo_store = std::make_unique<stratus::dynamodb_store>(*dynamodb->client, options);
        store = dynamo_store.get();
        store_description = s.dynamodb_endpoint + " (DynamoDB, tables " + s.table_prefix + "Connections, " +
                            s.table_prefix + "Messages)";
    }

    stratus::system_clock clock;
    stratus::hs256_token_verifier verifier(*secret, std::string(token_issuer), std::string(token_audience),
                                           clock);
    stratus::hs256_token_issuer issuer(*secret, std::string(token_issuer), std::string(token_audience));
    stratus::jwt_dev_token_issuer dev_tokens(*secret, issuer, clock, s.token_lifetime_s);

    stratus::gateway::gateway_options options;
    options.host = s.host;
    options.domain_name = s.domain_name;
    options.port = static_cast<std::uint16_t>(s.port);
    options.stage = s.stage;
    options.web_root = s.web_root.empty() ? default_web_root() : s.web_root;
    options.idle_timeout = millis(s.idle_timeout_s);
    options.max_connection_duration = millis(s.max_duration_s);
    options.keepalive_timeout = millis(s.keepalive_s);
    options.worker_threads = s.workers;
    options.io_threads = s.io_threads;
    options.max_send_queue_bytes = s.max_send_queue_bytes;
    options.handshake_timeout = millis(s.handshake_timeout_s);
    options.shutdown_grace = millis(s.shutdown_grace_s);
    options.max_connections_per_ip = s.max_connections_per_ip;
    options.max_connections = s.max_connections;
    options.allowed_origins = s.allowed_origins;
    options.rate_per_second = s.rate_limit;
    options.rate_burst = s.rate_burst;
    options.rate_abuse_frames = s.rate_abuse_frames;

    stratus::gateway::gateway gateway(options, std::move(routes), &dev_tokens);

    // With a shared store, connections held by other gateways are reached
    // through their @connections API (the endpoint stored with each connection).
    stratus::apigw_connection_pusher remote(local_credentials(), local_region(),
                                            stratus::apigw_pusher_options{});
    stratus::routing_pusher routing(gateway, remote);
    stratus::pusher& pusher = dynamodb ? static_cast<stratus::pusher&>(routing) : gateway;

    stratus::stderr_logger log;
    stratus::chat_options chat;
    chat.user_rate_per_second = s.user_rate_limit;
    chat.user_rate_burst = s.user_rate_burst;
    stratus::chat_service service(*store, pusher, clock, verifier, chat, &log);
    stratus::handler handler(service);
    stratus::gateway::handler_integration in_process(handler);

    // --lambda: the same handler as a separate `bootstrap` behind an emulated
    // Lambda Runtime API; it pushes through this gateway's @connections API.
    std::unique_ptr<stratus::gateway::lambda_runtime_emulator> lambda;
    std::string handler_description = "in process";
    if (!s.lambda_path.empty()) {
        stratus::gateway::lambda_options lambda_options;
        std::filesystem::path path = s.lambda_path;
        std::error_code ec;
        lambda_options.bootstrap = std::filesystem::is_directory(path, ec) ? path / "bootstrap" : path;
        lambda_options.max_instances = s.lambda_concurrency > 0 ? s.lambda_concurrency : s.workers;
        lambda_options.timeout = millis(s.lambda_timeout_s);
        lambda_options.memory_mb = s.lambda_memory_mb;
        lambda_options.region = local_region();
        auto environment = lambda_environment(s);
        if (!environment) {
            return fail_with(environment.error().detail);
        }
        lambda_options.environment = std::move(*environment);
        auto started = stratus::gateway::lambda_runtime_emulator::start(std::move(lambda_options));
        if (!started) {
            return fail_with(started.error().detail);
        }
        lambda = std::move(*started);
        handler_description = "Lambda runtime " + std::filesystem::absolute(path).string() + " (up to " +
                              std::to_string(s.lambda_concurrency > 0 ? s.lambda_concurrency : s.workers) +
                              " instances)";
        gateway.set_integration(*lambda);
    } else {
        gateway.set_integration(in_process);
    }

    auto endpoint = gateway.listen();
    if (!endpoint) {
        return fail_with(endpoint.error().detail);
    }
    if (!s.dynamodb_endpoint.empty() && s.domain_name.empty() && endpoint->address().is_unspecified()) {
        // Connection records name this gateway by domainName; on a shared store
        // the other gateways must be able to reach it there.
        std::cerr << "stratus: warning: listening on every address with a shared store, but other gateways "
                     "will reach this one at "
                  << gateway.domain_name()
                  << " (loopback): on several machines, pass --domain-name with an address they can reach\n";
    }
    auto const base = "http://" + s.host + ":" + std::to_string(endpoint->port());
    auto const ws = "ws://" + s.host + ":" + std::to_string(endpoint->port()) + "/" + s.stage;
    std::cout << "Stratus local stack ready at " << base << "/\n"
              << "  WebSocket:    " << ws << "?token=<JWT>\n"
              << "  Dev token:    curl -s -X POST " << base << "/auth/dev-token -d '{\"name\":\"alice\"}'\n"
              << "  @connections: " << base << "/" << s.stage << "/@connections/{connectionId}\n"
              << "  Store:        " << store_description << "\n"
              << "  Handler:      " << handler_description << "\n"
              << "  Web UI:       " << options.web_root.string() << "\n"
              << std::flush;
    bool const drained = gateway.run();
    if (lambda) {
        lambda->stop();
    }
    if (!drained) {
        // Handler calls are still running on the worker threads: end the
        // process as a crash would (no destructors racing them). The store
        // recovers from that (SQLite's WAL, DynamoDB's atomic requests).
        std::cout << "Stratus stopped (shutdown grace expired)\n" << std::flush;
        std::_Exit(1);
    }
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
    // A repeated option takes its last value (scripts can append overrides).
    dev->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    dev->add_option("--host", settings.host, "Address to listen on")->capture_default_str();
    dev->add_option("--port", settings.port, "Port (0 picks a free one)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    dev->add_option("--data-dir", settings.data_dir, "Directory for the SQLite file and the token secret")
        ->capture_default_str();
    dev->add_option("--domain-name", settings.domain_name,
                    "host[:port] the gateway puts in requestContext.domainName, where @connections "
                    "pushes for its connections go (default: the listen address and port)");
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

    dev->add_option(
        "--dynamodb-endpoint", settings.dynamodb_endpoint,
        "Store in a DynamoDB-compatible server (tables are created if missing) instead of SQLite; "
        "several gateways may share it");
    dev->add_option("--table-prefix", settings.table_prefix, "Prefix of the DynamoDB table names");
    dev->add_option(
           "--handshake-timeout", settings.handshake_timeout_s,
           "Seconds for a whole HTTP request or WebSocket handshake to arrive (slow clients are cut off)")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str();
    dev->add_option("--shutdown-grace", settings.shutdown_grace_s,
                    "Seconds to wait at shutdown for handler calls still running ($disconnect); then "
                    "exit without them (status 1)")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    dev->add_option("--max-connections-per-ip", settings.max_connections_per_ip,
                    "Open TCP connections per client IP (0: no cap); over it a connection is closed at once")
        ->capture_default_str();
    dev->add_option("--max-connections", settings.max_connections,
                    "Open TCP connections in total (0: no cap)")
        ->capture_default_str();
    dev->add_option("--allowed-origin", settings.allowed_origins,
                    "A browser Origin (scheme://host[:port]) allowed to open a WebSocket besides the same "
                    "origin; repeatable; * allows any. A handshake without Origin (non-browser) is allowed")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    dev->add_option("--rate-limit", settings.rate_limit,
                    "Data frames per second per connection (token bucket; 0 disables); the excess gets "
                    "rate_limited")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    dev->add_option("--rate-burst", settings.rate_burst, "Token bucket size of --rate-limit")
        ->check(CLI::Range(1.0, 1e9))
        ->capture_default_str();
    dev->add_option("--rate-abuse-frames", settings.rate_abuse_frames,
                    "Refused frames in a row after which the connection is closed with 1008")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    dev->add_option("--user-rate-limit", settings.user_rate_limit,
                    "Requests per second per user over all of their connections (0 disables; ping is free); "
                    "the excess gets rate_limited")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    dev->add_option("--user-rate-burst", settings.user_rate_burst, "Token bucket size of --user-rate-limit")
        ->check(CLI::Range(1.0, 1e9))
        ->capture_default_str();
    dev->add_option("--lambda", settings.lambda_path,
                    "Run the handler out of process: PATH is a Lambda custom runtime `bootstrap` (or a "
                    "folder holding one, e.g. the unpacked dist/stratus-lambda-*.zip) behind an emulated "
                    "Lambda Runtime API");
    dev->add_option("--lambda-concurrency", settings.lambda_concurrency,
                    "Function instances at most (default: --workers)")
        ->check(CLI::Range(1, 256));
    dev->add_option("--lambda-timeout", settings.lambda_timeout_s, "Function timeout in seconds")
        ->check(CLI::Range(1.0, 900.0))
        ->capture_default_str();
    dev->add_option("--lambda-memory", settings.lambda_memory_mb, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        ->check(CLI::Range(128, 10240))
        ->capture_default_str();
    dev->add_option("--lambda-env", settings.lambda_env,
                    "NAME=VALUE for the function's environment (repeatable; overrides the defaults)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);

    tables_settings tables;
    auto* tables_cmd = app.add_subcommand("tables", "Manage DynamoDB tables on a local server");
    auto* create_cmd =
        tables_cmd->add_subcommand("create", "Create the Connections and Messages tables (idempotent)");
    create_cmd->add_option("--endpoint", tables.endpoint, "DynamoDB endpoint, e.g. http://127.0.0.1:8000")
        ->required();
    create_cmd->add_option("--prefix", tables.prefix, "Prefix of the table names");
    tables_cmd->require_subcommand(1);

    auto loadgen = stratus::loadgen::loadgen_command::add_to(app);

    app.add_subcommand("version", "Print the version")->callback([] { std::cout << "stratus 0.1.0\n"; });

    CLI11_PARSE(app, argc, argv);
    if (dev->parsed()) {
        return run_dev(settings);
    }
    if (create_cmd->parsed()) {
        return run_tables_create(tables);
    }
    if (loadgen->parsed()) {
        return loadgen->run();
    }
    return 0;
}
