#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace stratus::dynamodb {

class dynamodb_client;

/// The names of Stratus's two tables for a prefix ("" in production, a
/// unique prefix per test): "<prefix>Connections" and "<prefix>Messages".
struct table_names {
    std::string connections;
    std::string messages;

    [[nodiscard]] static table_names for_prefix(std::string_view prefix);
};

/// Creates both tables (pk/sk strings, PAY_PER_REQUEST), waits until DescribeTable
/// reports them ACTIVE, and enables TTL on the `ttl` attribute. Tables that
/// already exist are kept as they are (idempotent). For local servers and
/// tests; production tables come from the deployment template.
/// Errors: unavailable (endpoint down, throttled past retries, not ACTIVE
/// within `timeout`), internal (any other rejection).
[[nodiscard]] result<void> create_tables(dynamodb_client& client, std::string_view prefix,
                                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

/// Deletes both tables; tables that do not exist are fine. Errors as above.
[[nodiscard]] result<void> delete_tables(dynamodb_client& client, std::string_view prefix);

} // namespace stratus::dynamodb
