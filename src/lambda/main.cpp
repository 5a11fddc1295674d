// Composition root of the Lambda function: the custom runtime `bootstrap`.
// It reads the function's configuration from the environment, builds the
// adapters (DynamoDB or, locally, SQLite; @connections; Cognito or dev tokens)
// around the same chat core and handler that the gateway runs in process, and
// serves invocations from the Lambda Runtime API until Lambda stops it.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "adapters/apigw/apigw_connection_pusher.hpp"
#include "adapters/aws/beast_http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "adapters/dynamodb/dynamodb_client.hpp"
#include "adapters/dynamodb/dynamodb_store.hpp"
#include "adapters/jwt/cognito_token_verifier.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "adapters/jwt/secret_file.hpp"
#include "adapters/lambda/lambda_runtime_client.hpp"
#include "adapters/lambda/lambda_runtime_loop.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/system/json_line_logger.hpp"
#include "adapters/system/system_clock.hpp"
#include "core/apigw_event.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "lambda/bootstrap_config.hpp"
#include "lambda/counting_pusher.hpp"
#include "lambda/counting_store.hpp"
#include "lambda/invocation_metrics.hpp"

namespace {

using namespace std::chrono_literals;

// The local stack's dev tokens (src/app/main.cpp mints them with these).
constexpr std::string_view dev_token_issuer = "stratus-local";
constexpr std::string_view dev_token_audience = "stratus";

/// Time left below which an invocation is refused rather than started.
constexpr std::int64_t min_remaining_ms = 20;

std::optional<std::string> environment(std::string_view name)
{
    char const* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) {
        return std::nullopt;
    }
    return std::string(value);
}

bool file_exists(std::string const& path)
{
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec);
}

std::int64_t epoch_ms()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Outbound HTTP settings: well inside a chat function's timeout, so a slow
/// dependency fails the request instead of the whole invocation.
stratus::aws::http_client_options outbound_http(std::string const& ca_file)
{
    stratus::aws::http_client_options options;
    options.connect_timeout = 1000ms;
    options.request_timeout = 3000ms;
    options.ca_file = ca_file;
    return options;
}

/// Everything the function keeps between invocations (Lambda reuses the
/// process: keep-alive connections, JWKS and caches stay warm).
struct function_state {
    stratus::system_clock clock;
    stratus::lambda::invocation_metrics metrics;

    // Store: one of the two.
    std::unique_ptr<stratus::sqlite_store> sqlite;
    std::unique_ptr<stratus::aws::beast_http_client> dynamodb_http;
    std::unique_ptr<stratus::aws::sigv4_signer> dynamodb_signer;
    std::unique_ptr<stratus::dynamodb::dynamodb_client> dynamodb;
    std::unique_ptr<stratus::dynamodb_store> dynamodb_store;

    // Identity.
    std::unique_ptr<stratus::aws::beast_http_client> jwks_http;
    std::unique_ptr<stratus::token_verifier> verifier;

    std::unique_ptr<stratus::apigw_connection_pusher> pusher;
    std::unique_ptr<stratus::lambda::counting_store> store;
    std::unique_ptr<stratus::lambda::counting_pusher> counted_pusher;
    std::unique_ptr<stratus::chat_service> service;
    std::unique_ptr<stratus::handler> handler;
};

stratus::result<void> open_store(function_state& state, stratus::lambda::bootstrap_config const& config,
                                 stratus::aws::aws_credentials const& credentials)
{
    stratus::store* inner = nullptr;
    if (!config.sqlite_path.empty()) {
        auto opened = stratus::sqlite_store::open(config.sqlite_path, stratus::sqlite_options{});
        if (!opened) {
            return stratus::fail(opened.error().code, "cannot open STRATUS_SQLITE_PATH " +
                                                          config.sqlite_path + ": " + opened.error().detail);
        }
        state.sqlite = std::move(*opened);
        inner = state.sqlite.get();
    } else {
        auto target = stratus::aws::endpoint::parse(config.dynamodb_endpoint);
        if (!target) {
            return stratus::fail(stratus::errc::invalid_request,
                                 "STRATUS_DYNAMODB_ENDPOINT is not a URL: " + config.dynamodb_endpoint);
        }
        auto http = stratus::aws::beast_http_client::create(*target, outbound_http(config.ca_file));
        if (!http) {
            return tl::unexpected(http.error());
        }
        state.dynamodb_http = std::move(*http);
        state.dynamodb_signer =
            std::make_unique<stratus::aws::sigv4_signer>(credentials, config.region, "dynamodb");
        state.dynamodb = std::make_unique<stratus::dynamodb::dynamodb_client>(
            *state.dynamodb_http, *state.dynamodb_signer, *target);
        stratus::dynamodb_store_options options;
        options.connections_table = config.connections_table;
        options.messages_table = config.messages_table;
        // Bounded well inside the function timeout (the client's own retries add to it).
        options.append_timeout = 5000ms;
        state.dynamodb_store = std::make_unique<stratus::dynamodb_store>(*state.dynamodb, options);
        inner = state.dynamodb_store.get();
    }
    state.store = std::make_unique<stratus::lambda::counting_store>(*inner, state.metrics);
    return {};
}

/// Production identity: the user pool's RS256 tokens, keys fetched from its
/// JWKS over HTTPS (certificate and host name verified) and cached.
stratus::result<void> make_cognito_verifier(function_state& state,
                                            stratus::lambda::bootstrap_config const& config)
{
    auto jwks = stratus::aws::endpoint::parse(config.jwks_url);
    if (!jwks || jwks->base_path.empty()) {
        return stratus::fail(stratus::errc::invalid_request,
                             "STRATUS_JWKS_URL is not a URL with a path: " + config.jwks_url);
    }
    auto http = stratus::aws::beast_http_client::create(*jwks, outbound_http(config.ca_file));
    if (!http) {
        return tl::unexpected(http.error());
    }
    state.jwks_http = std::move(*http);
    auto fetch = [client = state.jwks_http.get(),
                  target = jwks->base_path]() -> stratus::result<std::string> {
        stratus::aws::http_request request;
        request.method = "GET";
        request.target = target;
        request.set_header("Accept", "application/json");
        auto response = client->send(request);
        if (!response) {
            return tl::unexpected(response.error());
        }
        if (response->status != 200) {
            return stratus::fail(stratus::errc::unavailable,
                                 "JWKS endpoint answered HTTP " + std::to_string(response->status));
        }
        return std::move(response->body);
    };
    stratus::cognito_token_verifier::settings settings;
    settings.issuer = config.issuer;
    settings.client_ids = config.client_ids;
    settings.use = config.token_use == "access" ? stratus::cognito_token_verifier::token_use::access
                                                : stratus::cognito_token_verifier::token_use::id;
    state.verifier =
        std::make_unique<stratus::cognito_token_verifier>(settings, state.clock, std::move(fetch));
    return {};
}

stratus::result<void> make_verifier(function_state& state, stratus::lambda::bootstrap_config const& config)
{
    if (config.auth == stratus::lambda::auth_mode::dev) {
        auto secret = stratus::load_secret(config.dev_secret_file);
        if (!secret) {
            return stratus::fail(secret.error().code, "STRATUS_DEV_SECRET_FILE: " + secret.error().detail);
        }
        state.verifier = std::make_unique<stratus::hs256_token_verifier>(
            std::move(*secret), std::string(dev_token_issuer), std::string(dev_token_audience), state.clock);
        return {};
    }
    return make_cognito_verifier(state, config);
}

} // namespace

int main()
{
    stratus::json_line_logger log;

    // Without the Runtime API there is nobody to report to: standard error and exit.
    auto const api = environment("AWS_LAMBDA_RUNTIME_API");
    auto runtime_endpoint = stratus::aws::endpoint::parse("http://" + api.value_or(""));
    if (!api || api->empty() || !runtime_endpoint) {
        std::cerr
            << "bootstrap: AWS_LAMBDA_RUNTIME_API is not set or not host:port; this program is a Lambda "
               "custom runtime (run it under Lambda or `stratus dev --lambda`)\n";
        return 1;
    }
    stratus::aws::http_client_options runtime_http_options;
    runtime_http_options.request_timeout = 0ms; // `next` long-polls across freezes
    runtime_http_options.connect_timeout = 1000ms;
    runtime_http_options.max_idle_connections = 2;
    auto runtime_http = stratus::aws::beast_http_client::create(*runtime_endpoint, runtime_http_options);
    if (!runtime_http) {
        std::cerr << "bootstrap: " << runtime_http.error().detail << "\n";
        return 1;
    }
    stratus::lambda::lambda_runtime_client runtime(**runtime_http);

    auto init_failed = [&](std::string_view type, std::string const& message) {
        log.warn("init failed", message);
        if (auto reported = runtime.report_init_error(type, message); !reported) {
            log.warn("cannot report the init error", reported.error().detail);
        }
        return 1;
    };

    auto config = stratus::lambda::bootstrap_config::from_environment(environment, file_exists);
    if (!config) {
        return init_failed("Runtime.ConfigurationError", config.error().detail);
    }
    auto credentials = stratus::aws::credentials_from_environment();
    if (!credentials) {
        return init_failed("Runtime.ConfigurationError", credentials.error().detail);
    }

    function_state state;
    if (auto opened = open_store(state, *config, *credentials); !opened) {
        return init_failed("Runtime.StoreUnavailable", opened.error().detail);
    }
    if (auto made = make_verifier(state, *config); !made) {
        return init_failed("Runtime.ConfigurationError", made.error().detail);
    }
    stratus::apigw_pusher_options pusher_options;
    pusher_options.http = outbound_http(config->ca_file);
    state.pusher =
        std::make_unique<stratus::apigw_connection_pusher>(*credentials, config->region, pusher_options);
    state.counted_pusher = std::make_unique<stratus::lambda::counting_pusher>(*state.pusher, state.metrics);
    state.service = std::make_unique<stratus::chat_service>(*state.store, *state.counted_pusher, state.clock,
                                                            *state.verifier, stratus::chat_options{}, &log);
    state.handler = std::make_unique<stratus::handler>(*state.service);

    auto handle = [&](stratus::lambda::invocation const& inv) -> stratus::result<std::string> {
        state.metrics.reset();
        auto const started = std::chrono::steady_clock::now();
        stratus::lambda::invocation_record record;
        record.request_id = inv.request_id;
        record.timestamp_ms = epoch_ms();
        if (auto event = stratus::parse_apigw_event(inv.payload)) {
            record.route = event->route_key;
            record.connection_id = event->connection_id;
        }

        stratus::result<std::string> output;
        if (inv.deadline_ms != 0 && inv.deadline_ms - record.timestamp_ms < min_remaining_ms) {
            output =
                stratus::fail(stratus::errc::unavailable, "the invocation's deadline has already passed");
        } else {
            output = state.handler->handle(inv.payload);
        }

        if (!output) {
            record.outcome = "error";
            record.error = output.error().detail;
        } else if (auto response = stratus::parse_proxy_response(*output)) {
            record.status_code = response->status_code;
            record.outcome = response->status_code >= 500   ? "error"
                             : response->status_code >= 400 ? "rejected"
                                                            : "ok";
        } else {
            record.outcome = "error";
            record.error = "handler returned a malformed proxy response";
        }
        record.duration_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        if (inv.deadline_ms != 0 && epoch_ms() > inv.deadline_ms) {
            log.warn("deadline exceeded", "invocation " + inv.request_id + " ran past its deadline");
        }
        log.write_line(stratus::lambda::emf_log_line(record, state.metrics));
        return output;
    };

    return stratus::lambda::run_runtime_loop(runtime, handle, log);
}
