// The Lambda function's environment -> bootstrap_config::from_environment.
// Input: lines "NAME=value" (the last one of a name wins, as in an env block);
// a path "exists" unless it contains "missing". Oracles: a refusal names a
// variable; an accepted configuration holds only validated, trimmed values,
// and the endpoints main.cpp builds from it (the Runtime API's host:port) parse.

#include <cstdint>
#include <map>
#include <string>

#include "adapters/aws/http_message.hpp"
#include "fuzz_support.hpp"
#include "lambda/bootstrap_config.hpp"

namespace {

using stratus::fuzz::expect;
using stratus::lambda::bootstrap_config;

bool trimmed(std::string const& value)
{
    return value.empty() ||
           (value.find_first_of(" \t\r\n") != 0 && value.find_last_of(" \t\r\n") != value.size() - 1);
}

bool token_chars(std::string_view text)
{
    for (char ch : text) {
        bool const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '.';
        if (!ok) {
            return false;
        }
    }
    return !text.empty();
}

bool http_url(std::string const& value)
{
    return value.starts_with("https://") || value.starts_with("http://");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    std::map<std::string, std::string, std::less<>> env;
    auto text = stratus::fuzz::as_text(data, size);
    while (!text.empty()) {
        auto const end = text.find('\n');
        auto const line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        if (auto const eq = line.find('='); eq != std::string_view::npos) {
            env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        }
    }
    auto const lookup = [&env](std::string_view name) -> std::optional<std::string> {
        auto const it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto const exists = [](std::string const& path) { return path.find("missing") == std::string::npos; };

    auto const config = bootstrap_config::from_environment(lookup, exists);
    if (!config) {
        expect(config.error().code == stratus::errc::invalid_request,
               "a refused environment is invalid_request");
        auto const& detail = config.error().detail;
        expect(detail.starts_with("AWS_") || detail.starts_with("STRATUS_") ||
                   detail.starts_with("SSL_CERT_FILE"),
               "a refusal names the variable");
        return 0;
    }
    auto const& c = *config;
    for (auto const* value : {&c.runtime_api, &c.region, &c.user_pool_id, &c.token_use, &c.issuer,
                              &c.jwks_url, &c.dev_secret_file, &c.sqlite_path, &c.connections_table,
                              &c.messages_table, &c.dynamodb_endpoint, &c.ca_file}) {
        expect(trimmed(*value), "values are trimmed");
    }
    // main.cpp: endpoint::parse("http://" + AWS_LAMBDA_RUNTIME_API).
    expect(stratus::aws::endpoint::parse("http://" + c.runtime_api).has_value(),
           "an accepted AWS_LAMBDA_RUNTIME_API is a URL authority");
    expect(c.region.size() >= 3 && c.region.size() <= 32, "region is 3-32 chars");
    if (c.auth == stratus::lambda::auth_mode::cognito) {
        auto const underscore = c.user_pool_id.find('_');
        expect(underscore != std::string::npos && underscore >= 3 && c.user_pool_id.size() <= 55,
               "user pool id is <region>_<id>");
        expect(!c.client_ids.empty(), "at least one client id");
        for (auto const& id : c.client_ids) {
            expect(token_chars(id) && id.size() <= 128, "client ids are token characters");
        }
        expect(c.token_use == "id" || c.token_use == "access", "token_use is id or access");
        expect(http_url(c.issuer) && http_url(c.jwks_url), "issuer and JWKS URL are http(s) URLs");
    } else {
        expect(!c.dev_secret_file.empty(), "dev auth has a secret file");
    }
    if (c.sqlite_path.empty()) {
        expect(token_chars(c.connections_table) && token_chars(c.messages_table), "table names are valid");
        expect(http_url(c.dynamodb_endpoint), "the DynamoDB endpoint is an http(s) URL");
    }
    expect(c.ca_file.empty() || exists(c.ca_file), "the CA file exists");
    return 0;
}
