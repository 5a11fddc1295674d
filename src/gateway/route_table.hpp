#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace stratus::gateway {

/// How a route is integrated, as API Gateway configures it.
enum class integration_kind {
    /// The Stratus handler (in process, or the packaged bootstrap).
    handler,
    /// A route whose integration cannot be invoked (API Gateway: missing
    /// invoke permission, stage not redeployed): the client gets
    /// {"message": "Internal server error", ...}.
    unavailable,
};

/// One route of the WebSocket API.
struct route {
    std::string key;
    integration_kind integration = integration_kind::handler;
    /// Two-way route: the integration's response body is sent to the caller.
    bool route_response = true;
};

/// The API's routes and its route selection expression ($request.body.<path>).
/// Loaded from JSON (docs/gateway.md) or the built-in Stratus table.
class route_table {
public:
    /// The Stratus API: $connect, $disconnect, $default and every action, all
    /// integrated with the handler and with route responses.
    static route_table stratus_default();

    /// Parses a route table file's contents:
    /// {"routeSelectionExpression":"$request.body.action",
    ///  "routes":[{"routeKey":"$connect"}, {"routeKey":"sendMessage","routeResponse":true,
    ///            "integration":"handler"|"unavailable"}, ...]}
    /// Any problem -> errc::invalid_request with the reason.
    static result<route_table> parse(std::string_view json);

    /// The route for a MESSAGE frame: evaluates the selection expression on the
    /// body (non-JSON -> no key), matches exactly, falls back to $default.
    /// nullopt means no route matched and there is no $default (-> Forbidden).
    [[nodiscard]] std::optional<route> select(std::string_view body) const;

    /// The $connect / $disconnect route if configured.
    [[nodiscard]] std::optional<route> find(std::string_view key) const;

    /// The dotted JSON path of the selection expression ("action" for $request.body.action).
    [[nodiscard]] std::vector<std::string> const& selection_path() const { return path_; }

private:
    std::vector<std::string> path_;
    std::vector<route> routes_;
};

} // namespace stratus::gateway
