#include "adapters/dynamodb/dynamodb_tables.hpp"

#include <thread>

#include "adapters/dynamodb/dynamodb_client.hpp"

namespace stratus::dynamodb {
namespace {

error table_error(dynamodb_error const& e, std::string_view what)
{
    auto const code =
        e.retryable() || e.kind == error_kind::resource_in_use ? errc::unavailable : errc::internal;
    return error{code, "dynamodb: " + std::string(what) + ": " + e.describe()};
}

// Both tables share one key shape: pk (hash) and sk (range), both strings.
nlohmann::json create_request(std::string const& table)
{
    return nlohmann::json{
        {"TableName", table},
        {"AttributeDefinitions", nlohmann::json::array({{{"AttributeName", "pk"}, {"AttributeType", "S"}},
                                                        {{"AttributeName", "sk"}, {"AttributeType", "S"}}})},
        {"KeySchema", nlohmann::json::array({{{"AttributeName", "pk"}, {"KeyType", "HASH"}},
                                             {{"AttributeName", "sk"}, {"KeyType", "RANGE"}}})},
        {"BillingMode", "PAY_PER_REQUEST"},
    };
}

result<void> wait_active(dynamodb_client& client, std::string const& table,
                         std::chrono::steady_clock::time_point deadline)
{
    for (;;) {
        auto described = client.describe_table(table);
        if (!described) {
            // Right after CreateTable, DescribeTable may not know the table yet.
            if (described.error().kind != error_kind::resource_not_found) {
                return tl::unexpected(table_error(described.error(), "DescribeTable " + table));
            }
        } else if (described->value("/Table/TableStatus"_json_pointer, std::string()) == "ACTIVE") {
            return {};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return fail(errc::unavailable, "dynamodb: table " + table + " is not ACTIVE in time");
        }
        client.pause(std::chrono::milliseconds(250));
    }
}

} // namespace

table_names table_names::for_prefix(std::string_view prefix)
{
    return table_names{std::string(prefix) + "Connections", std::string(prefix) + "Messages"};
}

result<void> create_tables(dynamodb_client& client, std::string_view prefix,
                           std::chrono::milliseconds timeout)
{
    auto const names = table_names::for_prefix(prefix);
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (auto const& table : {names.connections, names.messages}) {
        auto created = client.create_table(create_request(table));
        if (!created && created.error().kind != error_kind::resource_in_use) {
            return tl::unexpected(table_error(created.error(), "CreateTable " + table));
        }
    }
    for (auto const& table : {names.connections, names.messages}) {
        if (auto active = wait_active(client, table, deadline); !active) {
            return active;
        }
        // Both tables carry `ttl` (epoch seconds) on the items that expire.
        auto ttl = client.update_time_to_live(nlohmann::json{
            {"TableName", table},
            {"TimeToLiveSpecification", {{"Enabled", true}, {"AttributeName", "ttl"}}},
        });
        // DynamoDB refuses to enable TTL twice ("TimeToLive is already enabled").
        if (!ttl && !(ttl.error().kind == error_kind::validation &&
                      ttl.error().message.find("already enabled") != std::string::npos)) {
            return tl::unexpected(table_error(ttl.error(), "UpdateTimeToLive " + table));
        }
    }
    return {};
}

result<void> delete_tables(dynamodb_client& client, std::string_view prefix)
{
    auto const names = table_names::for_prefix(prefix);
    for (auto const& table : {names.connections, names.messages}) {
        auto deleted = client.delete_table(table);
        if (!deleted && deleted.error().kind != error_kind::resource_not_found) {
            return tl::unexpected(table_error(deleted.error(), "DeleteTable " + table));
        }
    }
    return {};
}

} // namespace stratus::dynamodb
