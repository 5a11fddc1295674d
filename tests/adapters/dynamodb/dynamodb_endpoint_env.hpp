#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "adapters/aws/beast_http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "adapters/dynamodb/dynamodb_client.hpp"

namespace stratus::dynamodb::testing {

/// The environment variable naming a DynamoDB-compatible endpoint for the
/// integration tests ("http://127.0.0.1:PORT").
inline constexpr char const* endpoint_variable = "STRATUS_DYNAMODB_ENDPOINT";

inline std::string env_or(char const* name, std::string fallback)
{
    char const* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

/// A real client on the endpoint: beast_http_client, SigV4 signer (credentials
/// from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, default
/// test/test; region AWS_REGION, default us-east-1) and dynamodb_client.
struct endpoint_client {
    std::unique_ptr<aws::beast_http_client> http;
    std::unique_ptr<aws::sigv4_signer> signer;
    std::unique_ptr<dynamodb_client> client;

    /// nullopt with `why` set when the URL is unusable.
    static std::unique_ptr<endpoint_client> connect(std::string const& url, std::string& why)
    {
        auto target = aws::endpoint::parse(url);
        if (!target) {
            why = "not an http(s) URL: " + url;
            return nullptr;
        }
        auto http = aws::beast_http_client::create(*target);
        if (!http) {
            why = http.error().detail;
            return nullptr;
        }
        auto bundle = std::make_unique<endpoint_client>();
        bundle->http = std::move(*http);
        bundle->signer = std::make_unique<aws::sigv4_signer>(
            aws::aws_credentials{env_or("AWS_ACCESS_KEY_ID", "test"), env_or("AWS_SECRET_ACCESS_KEY", "test"),
                                 env_or("AWS_SESSION_TOKEN", "")},
            env_or("AWS_REGION", "us-east-1"), "dynamodb");
        bundle->client = std::make_unique<dynamodb_client>(*bundle->http, *bundle->signer, *target);
        return bundle;
    }
};

/// A table prefix no other run or test uses: "<base><16 hex>_".
inline std::string unique_prefix(std::string const& base)
{
    static thread_local std::mt19937_64 engine{std::random_device{}()};
    char text[24];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(engine()));
    return base + text + "_";
}

} // namespace stratus::dynamodb::testing
