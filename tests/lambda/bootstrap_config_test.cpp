#include "lambda/bootstrap_config.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace stratus::lambda {
namespace {

struct fixture {
    std::map<std::string, std::string> vars = {
        {"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"},
        {"AWS_REGION", "eu-west-1"},
        {"STRATUS_COGNITO_USER_POOL_ID", "eu-west-1_AbCdEf123"},
        {"STRATUS_COGNITO_CLIENT_ID", "1example23456789"},
        {"STRATUS_CONNECTIONS_TABLE", "stratus-Connections"},
        {"STRATUS_MESSAGES_TABLE", "stratus-Messages"},
    };
    std::set<std::string> files;

    result<bootstrap_config> read() const
    {
        return bootstrap_config::from_environment(
            [this](std::string_view name) -> std::optional<std::string> {
                auto it = vars.find(std::string(name));
                return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
            },
            [this](std::string const& path) { return files.contains(path); });
    }

    std::string error_of() const
    {
        auto config = read();
        EXPECT_FALSE(config);
        return config ? std::string() : config.error().detail;
    }
};

TEST(BootstrapConfig, ProductionDefaultsDeriveIssuerJwksAndEndpoint)
{
    fixture f;
    f.files.insert("/etc/pki/tls/certs/ca-bundle.crt");
    f.files.insert("/etc/ssl/certs/ca-certificates.crt");
    auto config = f.read();
    ASSERT_TRUE(config) << config.error().detail;
    EXPECT_EQ(config->auth, auth_mode::cognito);
    EXPECT_EQ(config->issuer, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123");
    EXPECT_EQ(config->jwks_url,
              "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123/.well-known/jwks.json");
    EXPECT_EQ(config->token_use, "id");
    EXPECT_EQ(config->client_ids, std::vector<std::string>{"1example23456789"});
    EXPECT_EQ(config->dynamodb_endpoint, "https://dynamodb.eu-west-1.amazonaws.com");
    EXPECT_EQ(config->connections_table, "stratus-Connections");
    // Amazon Linux's bundle comes first.
    EXPECT_EQ(config->ca_file, "/etc/pki/tls/certs/ca-bundle.crt");
}

TEST(BootstrapConfig, TheIssuerFollowsThePoolsRegionNotTheFunctions)
{
    fixture f;
    f.vars["STRATUS_COGNITO_USER_POOL_ID"] = "us-east-2_Pool9";
    EXPECT_EQ(f.read()->issuer, "https://cognito-idp.us-east-2.amazonaws.com/us-east-2_Pool9");
}

TEST(BootstrapConfig, OverridesForLocalRuns)
{
    fixture f;
    f.vars["STRATUS_COGNITO_ISSUER"] = "http://127.0.0.1:4000/eu-west-1_AbCdEf123";
    f.vars["STRATUS_JWKS_URL"] = "https://localhost:4443/jwks.json";
    f.vars["STRATUS_DYNAMODB_ENDPOINT"] = "http://127.0.0.1:8000";
    f.vars["STRATUS_COGNITO_CLIENT_ID"] = " web , cli ";
    f.vars["STRATUS_COGNITO_TOKEN_USE"] = "access";
    f.vars["SSL_CERT_FILE"] = "/tmp/ca.pem";
    f.vars["STRATUS_CA_FILE"] = "/tmp/mine.pem";
    f.files = {"/tmp/ca.pem", "/tmp/mine.pem"};
    auto config = f.read();
    ASSERT_TRUE(config) << config.error().detail;
    EXPECT_EQ(config->issuer, "http://127.0.0.1:4000/eu-west-1_AbCdEf123");
    EXPECT_EQ(config->jwks_url, "https://localhost:4443/jwks.json");
    EXPECT_EQ(config->dynamodb_endpoint, "http://127.0.0.1:8000");
    EXPECT_EQ(config->client_ids, (std::vector<std::string>{"web", "cli"}));
    EXPECT_EQ(config->token_use, "access");
    EXPECT_EQ(config->ca_file, "/tmp/mine.pem"); // STRATUS_CA_FILE before SSL_CERT_FILE
}

TEST(BootstrapConfig, DevModeWithSqliteNeedsNoCognitoOrTables)
{
    fixture f;
    f.vars = {{"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"},
              {"AWS_DEFAULT_REGION", "us-east-1"},
              {"STRATUS_AUTH", "dev"},
              {"STRATUS_DEV_SECRET_FILE", "/data/jwt-secret"},
              {"STRATUS_SQLITE_PATH", "/data/stratus.db"}};
    auto config = f.read();
    ASSERT_TRUE(config) << config.error().detail;
    EXPECT_EQ(config->auth, auth_mode::dev);
    EXPECT_EQ(config->region, "us-east-1");
    EXPECT_EQ(config->sqlite_path, "/data/stratus.db");
    EXPECT_TRUE(config->connections_table.empty());
    EXPECT_TRUE(config->ca_file.empty()); // none of the candidates exists here
}

TEST(BootstrapConfig, EachProblemNamesItsVariable)
{
    struct row {
        std::string name;
        std::optional<std::string> value; // nullopt: unset
        std::string expected;
    };
    std::vector<row> const rows = {
        {"AWS_LAMBDA_RUNTIME_API", std::nullopt, "AWS_LAMBDA_RUNTIME_API: not set"},
        {"AWS_LAMBDA_RUNTIME_API", "localhost", "AWS_LAMBDA_RUNTIME_API: must be host:port"},
        {"AWS_LAMBDA_RUNTIME_API", "127.0.0.1:99999", "AWS_LAMBDA_RUNTIME_API: must be host:port"},
        {"AWS_LAMBDA_RUNTIME_API", "a/b:80", "AWS_LAMBDA_RUNTIME_API: must be host:port"},
        {"AWS_REGION", std::nullopt, "AWS_REGION: not set"},
        {"AWS_REGION", "EU_WEST", "AWS_REGION: not a region name"},
        {"STRATUS_AUTH", "none", "STRATUS_AUTH: must be 'cognito' or 'dev'"},
        {"STRATUS_COGNITO_USER_POOL_ID", std::nullopt, "STRATUS_COGNITO_USER_POOL_ID: not set"},
        {"STRATUS_COGNITO_USER_POOL_ID", "nounderscore", "STRATUS_COGNITO_USER_POOL_ID: must look like"},
        {"STRATUS_COGNITO_USER_POOL_ID", "eu-west-1_a/b", "STRATUS_COGNITO_USER_POOL_ID: must look like"},
        {"STRATUS_COGNITO_CLIENT_ID", "   ", "STRATUS_COGNITO_CLIENT_ID: not set"},
        {"STRATUS_COGNITO_CLIENT_ID", "a,,b", "STRATUS_COGNITO_CLIENT_ID: not a comma-separated list"},
        {"STRATUS_COGNITO_TOKEN_USE", "refresh", "STRATUS_COGNITO_TOKEN_USE: must be 'id' or 'access'"},
        {"STRATUS_COGNITO_ISSUER", "ftp://x", "STRATUS_COGNITO_ISSUER: must be an http(s) URL"},
        {"STRATUS_JWKS_URL", "jwks.json", "STRATUS_JWKS_URL: must be an http(s) URL"},
        {"STRATUS_CONNECTIONS_TABLE", std::nullopt, "STRATUS_CONNECTIONS_TABLE: not set"},
        {"STRATUS_MESSAGES_TABLE", "", "STRATUS_MESSAGES_TABLE: not set"},
        {"STRATUS_MESSAGES_TABLE", "a b", "STRATUS_MESSAGES_TABLE: not a DynamoDB table name"},
        {"STRATUS_CONNECTIONS_TABLE", "ab", "STRATUS_CONNECTIONS_TABLE: not a DynamoDB table name"},
        {"STRATUS_DYNAMODB_ENDPOINT", "dynamodb", "STRATUS_DYNAMODB_ENDPOINT: must be an http(s) URL"},
        {"STRATUS_CA_FILE", "/missing.pem", "STRATUS_CA_FILE: no such file: /missing.pem"},
        {"SSL_CERT_FILE", "/missing.pem", "SSL_CERT_FILE: no such file: /missing.pem"},
    };
    for (auto const& r : rows) {
        fixture f;
        if (r.value) {
            f.vars[r.name] = *r.value;
        } else {
            f.vars.erase(r.name);
        }
        auto const detail = f.error_of();
        EXPECT_TRUE(detail.starts_with(r.expected))
            << r.name << "=" << r.value.value_or("<unset>") << " gave '" << detail << "'";
    }
}

TEST(BootstrapConfig, DevModeNeedsTheSecretFile)
{
    fixture f;
    f.vars["STRATUS_AUTH"] = "dev";
    EXPECT_TRUE(f.error_of().starts_with("STRATUS_DEV_SECRET_FILE: not set"));
}

} // namespace
} // namespace stratus::lambda
