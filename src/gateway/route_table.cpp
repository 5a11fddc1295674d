#include "gateway/route_table.hpp"

#include <nlohmann/json.hpp>

#include "core/protocol.hpp"
#include "core/validation.hpp"

namespace stratus::gateway {
namespace {

using json = nlohmann::json;

constexpr std::string_view body_prefix = "$request.body.";

// "$request.body.a.b" -> {"a", "b"}.
result<std::vector<std::string>> parse_expression(std::string_view expression)
{
    if (expression.substr(0, body_prefix.size()) != body_prefix || expression.size() == body_prefix.size()) {
        return fail(errc::invalid_request, "routeSelectionExpression must look like $request.body.<path>");
    }
    std::vector<std::string> path;
    std::string_view rest = expression.substr(body_prefix.size());
    while (!rest.empty()) {
        auto const dot = rest.find('.');
        auto const part = rest.substr(0, dot);
        if (part.empty()) {
            return fail(errc::invalid_request, "routeSelectionExpression has an empty path segment");
        }
        path.emplace_back(part);
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    return path;
}

// JSONPath results are stringified: strings as they are, other scalars as JSON text.
std::string stringify(json const& value)
{
    if (value.is_string()) {
        return value.get<std::string>();
    }
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace

route_table route_table::stratus_default()
{
    route_table table;
    table.path_ = {"action"};
    table.routes_.push_back(route{"$connect", integration_kind::handler, false});
    table.routes_.push_back(route{"$disconnect", integration_kind::handler, false});
    table.routes_.push_back(route{"$default", integration_kind::handler, true});
    for (auto const name : action_names()) {
        table.routes_.push_back(route{std::string(name), integration_kind::handler, true});
    }
    return table;
}

result<route_table> route_table::parse(std::string_view text)
{
    if (unsafe_json_text(text, limits::json_max_depth)) {
        return fail(errc::invalid_request, "route table is not acceptable JSON (NUL byte or too deep)");
    }
    json const doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(errc::invalid_request, "route table is not a JSON object");
    }
    route_table table;
    auto const expr = doc.find("routeSelectionExpression");
    if (expr == doc.end() || !expr->is_string()) {
        return fail(errc::invalid_request, "route table needs a string routeSelectionExpression");
    }
    auto path = parse_expression(expr->get<std::string>());
    if (!path) {
        return tl::unexpected(path.error());
    }
    table.path_ = std::move(*path);

    auto const routes = doc.find("routes");
    if (routes == doc.end() || !routes->is_array()) {
        return fail(errc::invalid_request, "route table needs a 'routes' array");
    }
    for (auto const& entry : *routes) {
        if (!entry.is_object() || !entry.contains("routeKey") || !entry["routeKey"].is_string()) {
            return fail(errc::invalid_request, "each route needs a string routeKey");
        }
        route r;
        r.key = entry["routeKey"].get<std::string>();
        if (r.key.empty()) {
            return fail(errc::invalid_request, "routeKey must not be empty");
        }
        if (r.key[0] == '$' && r.key != "$connect" && r.key != "$disconnect" && r.key != "$default") {
            return fail(errc::invalid_request, "custom route keys must not start with '$': " + r.key);
        }
        if (table.find(r.key)) {
            return fail(errc::invalid_request, "duplicate routeKey: " + r.key);
        }
        r.route_response = r.key != "$connect" && r.key != "$disconnect";
        if (auto const rr = entry.find("routeResponse"); rr != entry.end()) {
            if (!rr->is_boolean()) {
                return fail(errc::invalid_request, "routeResponse must be true or false");
            }
            r.route_response = rr->get<bool>();
        }
        if (auto const kind = entry.find("integration"); kind != entry.end()) {
            if (*kind == "handler") {
                r.integration = integration_kind::handler;
            } else if (*kind == "unavailable") {
                r.integration = integration_kind::unavailable;
            } else {
                return fail(errc::invalid_request, "integration must be \"handler\" or \"unavailable\"");
            }
        }
        table.routes_.push_back(std::move(r));
    }
    return table;
}

std::optional<route> route_table::select(std::string_view body) const
{
    std::string key;
    if (!unsafe_json_text(body, limits::json_max_depth)) {
        json const doc = json::parse(body, nullptr, false);
        if (!doc.is_discarded()) {
            json const* node = &doc;
            for (auto const& part : path_) {
                if (!node->is_object()) {
                    node = nullptr;
                    break;
                }
                auto const it = node->find(part);
                if (it == node->end()) {
                    node = nullptr;
                    break;
                }
                node = &*it;
            }
            // A missing path resolves to "" (which matches no route).
            if (node != nullptr && !node->is_null()) {
                key = stringify(*node);
            }
        }
    }
    if (!key.empty() && key[0] != '$') {
        if (auto found = find(key)) {
            return found;
        }
    }
    return find("$default");
}

std::optional<route> route_table::find(std::string_view key) const
{
    for (auto const& r : routes_) {
        if (r.key == key) {
            return r;
        }
    }
    return std::nullopt;
}

} // namespace stratus::gateway
