#include "lambda/bootstrap_config.hpp"

namespace stratus::lambda {

namespace {

/// A variable's value, with surrounding blanks removed; unset and blank are the same.
std::string value_of(bootstrap_config::lookup const& env, std::string_view name)
{
    auto value = env(name);
    if (!value) {
        return {};
    }
    auto const first = value->find_first_not_of(" \t\r\n");
    if (first == std::string::npos) {
        return {};
    }
    auto const last = value->find_last_not_of(" \t\r\n");
    return value->substr(first, last - first + 1);
}

tl::unexpected<error> bad(std::string_view name, std::string_view what)
{
    return fail(errc::invalid_request, std::string(name) + ": " + std::string(what));
}

bool is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.';
}

bool all_token_chars(std::string_view text)
{
    for (char ch : text) {
        if (!is_token_char(ch)) {
            return false;
        }
    }
    return !text.empty();
}

/// "us-east-1", "eu-central-2", "us-gov-west-1": lower-case letters, digits and '-'.
bool valid_region(std::string_view region)
{
    if (region.size() < 3 || region.size() > 32 || region.front() == '-' || region.back() == '-') {
        return false;
    }
    for (char ch : region) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
            return false;
        }
    }
    return true;
}

/// "host:port" with a port of 1-65535.
bool valid_host_port(std::string_view value)
{
    auto const colon = value.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size()) {
        return false;
    }
    auto const port = value.substr(colon + 1);
    if (port.size() > 5) {
        return false;
    }
    int number = 0;
    for (char ch : port) {
        if (ch < '0' || ch > '9') {
            return false;
        }
        number = number * 10 + (ch - '0');
    }
    if (number < 1 || number > 65535) {
        return false;
    }
    for (char ch : value.substr(0, colon)) {
        if (!(is_token_char(ch) || ch == '[' || ch == ']' || ch == ':')) {
            return false;
        }
    }
    return true;
}

bool is_url(std::string_view value, bool https_only)
{
    if (value.starts_with("https://")) {
        return value.size() > 8;
    }
    return !https_only && value.starts_with("http://") && value.size() > 7;
}

/// DynamoDB table names: 3-255 of [A-Za-z0-9_.-].
bool valid_table_name(std::string_view name)
{
    return name.size() >= 3 && name.size() <= 255 && all_token_chars(name);
}

std::vector<std::string> split_list(std::string_view text)
{
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto const comma = text.find(',', start);
        auto const end = comma == std::string_view::npos ? text.size() : comma;
        auto item = text.substr(start, end - start);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        items.emplace_back(item);
        if (comma == std::string_view::npos) {
            break;
        }
        start = comma + 1;
    }
    return items;
}

} // namespace

result<bootstrap_config> bootstrap_config::from_environment(lookup const& env, file_exists const& exists)
{
    bootstrap_config config;

    config.runtime_api = value_of(env, "AWS_LAMBDA_RUNTIME_API");
    if (config.runtime_api.empty()) {
        return bad("AWS_LAMBDA_RUNTIME_API",
                   "not set (the bootstrap runs under Lambda or `stratus dev --lambda`)");
    }
    if (!valid_host_port(config.runtime_api)) {
        return bad("AWS_LAMBDA_RUNTIME_API", "must be host:port, got '" + config.runtime_api + "'");
    }

    config.region = value_of(env, "AWS_REGION");
    if (config.region.empty()) {
        config.region = value_of(env, "AWS_DEFAULT_REGION");
    }
    if (config.region.empty()) {
        return bad("AWS_REGION", "not set");
    }
    if (!valid_region(config.region)) {
        return bad("AWS_REGION", "not a region name: '" + config.region + "'");
    }

    auto const auth = value_of(env, "STRATUS_AUTH");
    if (auth.empty() || auth == "cognito") {
        config.auth = auth_mode::cognito;
    } else if (auth == "dev") {
        config.auth = auth_mode::dev;
    } else {
        return bad("STRATUS_AUTH", "must be 'cognito' or 'dev', got '" + auth + "'");
    }

    if (config.auth == auth_mode::cognito) {
        config.user_pool_id = value_of(env, "STRATUS_COGNITO_USER_POOL_ID");
        if (config.user_pool_id.empty()) {
            return bad("STRATUS_COGNITO_USER_POOL_ID", "not set (required with STRATUS_AUTH=cognito)");
        }
        auto const underscore = config.user_pool_id.find('_');
        if (underscore == std::string::npos || config.user_pool_id.size() > 55 ||
            !valid_region(std::string_view(config.user_pool_id).substr(0, underscore)) ||
            !all_token_chars(std::string_view(config.user_pool_id).substr(underscore + 1))) {
            return bad("STRATUS_COGNITO_USER_POOL_ID",
                       "must look like <region>_<id>, got '" + config.user_pool_id + "'");
        }
        auto const clients = value_of(env, "STRATUS_COGNITO_CLIENT_ID");
        if (clients.empty()) {
            return bad("STRATUS_COGNITO_CLIENT_ID", "not set (required with STRATUS_AUTH=cognito)");
        }
        config.client_ids = split_list(clients);
        for (auto const& id : config.client_ids) {
            if (id.size() > 128 || !all_token_chars(id)) {
                return bad("STRATUS_COGNITO_CLIENT_ID", "not a comma-separated list of client ids");
            }
        }
        auto const token_use = value_of(env, "STRATUS_COGNITO_TOKEN_USE");
        if (!token_use.empty()) {
            if (token_use != "id" && token_use != "access") {
                return bad("STRATUS_COGNITO_TOKEN_USE", "must be 'id' or 'access', got '" + token_use + "'");
            }
            config.token_use = token_use;
        }
        auto const pool_region = config.user_pool_id.substr(0, config.user_pool_id.find('_'));
        config.issuer = value_of(env, "STRATUS_COGNITO_ISSUER");
        if (config.issuer.empty()) {
            config.issuer = "https://cognito-idp." + pool_region + ".amazonaws.com/" + config.user_pool_id;
        } else if (!is_url(config.issuer, false)) {
            return bad("STRATUS_COGNITO_ISSUER", "must be an http(s) URL");
        }
        config.jwks_url = value_of(env, "STRATUS_JWKS_URL");
        if (config.jwks_url.empty()) {
            config.jwks_url = config.issuer + "/.well-known/jwks.json";
        } else if (!is_url(config.jwks_url, false)) {
            return bad("STRATUS_JWKS_URL", "must be an http(s) URL");
        }
    } else {
        config.dev_secret_file = value_of(env, "STRATUS_DEV_SECRET_FILE");
        if (config.dev_secret_file.empty()) {
            return bad("STRATUS_DEV_SECRET_FILE", "not set (required with STRATUS_AUTH=dev)");
        }
    }

    config.sqlite_path = value_of(env, "STRATUS_SQLITE_PATH");
    if (config.sqlite_path.empty()) {
        config.connections_table = value_of(env, "STRATUS_CONNECTIONS_TABLE");
        config.messages_table = value_of(env, "STRATUS_MESSAGES_TABLE");
        if (config.connections_table.empty()) {
            return bad("STRATUS_CONNECTIONS_TABLE", "not set (or set STRATUS_SQLITE_PATH for a local store)");
        }
        if (config.messages_table.empty()) {
            return bad("STRATUS_MESSAGES_TABLE", "not set (or set STRATUS_SQLITE_PATH for a local store)");
        }
        if (!valid_table_name(config.connections_table)) {
            return bad("STRATUS_CONNECTIONS_TABLE", "not a DynamoDB table name");
        }
        if (!valid_table_name(config.messages_table)) {
            return bad("STRATUS_MESSAGES_TABLE", "not a DynamoDB table name");
        }
        config.dynamodb_endpoint = value_of(env, "STRATUS_DYNAMODB_ENDPOINT");
        if (config.dynamodb_endpoint.empty()) {
            config.dynamodb_endpoint = "https://dynamodb." + config.region + ".amazonaws.com";
        } else if (!is_url(config.dynamodb_endpoint, false)) {
            return bad("STRATUS_DYNAMODB_ENDPOINT", "must be an http(s) URL");
        }
    }

    std::string_view ca_variable = "STRATUS_CA_FILE";
    config.ca_file = value_of(env, ca_variable);
    if (config.ca_file.empty()) {
        ca_variable = "SSL_CERT_FILE";
        config.ca_file = value_of(env, ca_variable);
    }
    if (!config.ca_file.empty()) {
        if (!exists(config.ca_file)) {
            return bad(ca_variable, "no such file: " + config.ca_file);
        }
    } else {
        for (auto candidate : ca_bundle_candidates) {
            if (exists(std::string(candidate))) {
                config.ca_file = std::string(candidate);
                break;
            }
        }
    }
    return config;
}

} // namespace stratus::lambda
