#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace stratus::lambda {

/// How `$connect` verifies tokens.
enum class auth_mode {
    /// Amazon Cognito user pool JWTs (RS256 against the pool's JWKS): production.
    cognito,
    /// The local stack's HS256 dev tokens (shared secret file): `stratus dev --lambda` only.
    dev,
};

/// The function's configuration, read once at init from its environment
/// (docs/lambda.md lists every variable). Validation happens here so that a
/// misconfigured function fails at init (Runtime API /init/error) with a
/// message naming the variable, not at the first message.
struct bootstrap_config {
    /// AWS_LAMBDA_RUNTIME_API ("host:port").
    std::string runtime_api;
    /// AWS_REGION, else AWS_DEFAULT_REGION.
    std::string region;

    auth_mode auth = auth_mode::cognito;
    /// cognito: STRATUS_COGNITO_USER_POOL_ID ("<region>_<id>").
    std::string user_pool_id;
    /// cognito: STRATUS_COGNITO_CLIENT_ID (comma-separated app client ids).
    std::vector<std::string> client_ids;
    /// cognito: STRATUS_COGNITO_TOKEN_USE, "id" (default) or "access".
    std::string token_use = "id";
    /// cognito: STRATUS_COGNITO_ISSUER, default
    /// https://cognito-idp.<pool region>.amazonaws.com/<pool id>.
    std::string issuer;
    /// cognito: STRATUS_JWKS_URL, default <issuer>/.well-known/jwks.json.
    std::string jwks_url;
    /// dev: STRATUS_DEV_SECRET_FILE (the local stack's token secret).
    std::string dev_secret_file;

    /// STRATUS_SQLITE_PATH: the local stack's SQLite file instead of DynamoDB.
    std::string sqlite_path;
    /// STRATUS_CONNECTIONS_TABLE / STRATUS_MESSAGES_TABLE (DynamoDB).
    std::string connections_table;
    std::string messages_table;
    /// STRATUS_DYNAMODB_ENDPOINT, default https://dynamodb.<region>.amazonaws.com.
    std::string dynamodb_endpoint;

    /// STRATUS_CA_FILE, else SSL_CERT_FILE, else the first CA bundle found
    /// among the well-known paths (Amazon Linux first); "" = OpenSSL's default.
    std::string ca_file;

    using lookup = std::function<std::optional<std::string>(std::string_view name)>;
    using file_exists = std::function<bool(std::string const& path)>;

    /// Reads and validates the configuration. Errors (errc::invalid_request)
    /// name the variable and what is wrong with it.
    [[nodiscard]] static result<bootstrap_config> from_environment(lookup const& env,
                                                                   file_exists const& exists);

    /// CA bundles tried in order when neither STRATUS_CA_FILE nor SSL_CERT_FILE is set.
    static constexpr std::string_view ca_bundle_candidates[] = {
        "/etc/pki/tls/certs/ca-bundle.crt",   // Amazon Linux 2023 (provided.al2023)
        "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu
        "/etc/ssl/cert.pem",                  // Alpine, macOS
    };
};

} // namespace stratus::lambda
