#include "core/apigw_event.hpp"

#include <nlohmann/json.hpp>

#include "core/validation.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

// Reads an optional string member; a present member of another type is an error.
bool read_string(json const& object, char const* key, std::string& out, bool required)
{
    auto const it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return !required;
    }
    if (!it->is_string()) {
        return false;
    }
    out = it->get<std::string>();
    return true;
}

bool read_int64(json const& object, char const* key, std::int64_t& out)
{
    auto const it = object.find(key);
    if (it == object.end() || it->is_null()) {
        return true;
    }
    if (!it->is_number_integer()) {
        return false;
    }
    out = it->get<std::int64_t>();
    return true;
}

} // namespace

result<apigw_event> parse_apigw_event(std::string_view text)
{
    if (unsafe_json_text(text, limits::json_max_depth)) {
        return fail(errc::invalid_request, "event is not acceptable JSON (NUL byte or too deep)");
    }
    json const doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(errc::invalid_request, "event is not a JSON object");
    }
    auto const ctx_it = doc.find("requestContext");
    if (ctx_it == doc.end() || !ctx_it->is_object()) {
        return fail(errc::invalid_request, "event has no requestContext object");
    }
    json const& ctx = *ctx_it;

    apigw_event event;
    bool ok = read_string(ctx, "routeKey", event.route_key, true) &&
              read_string(ctx, "eventType", event.event_type, true) &&
              read_string(ctx, "connectionId", event.connection_id, true) &&
              read_string(ctx, "requestId", event.request_id, false) &&
              read_string(ctx, "messageId", event.message_id, false) &&
              read_string(ctx, "stage", event.stage, false) &&
              read_string(ctx, "domainName", event.domain_name, false) &&
              read_string(ctx, "apiId", event.api_id, false) &&
              read_int64(ctx, "connectedAt", event.connected_at_ms) &&
              read_int64(ctx, "requestTimeEpoch", event.request_time_epoch_ms);
    if (!ok) {
        return fail(errc::invalid_request, "requestContext has missing or mistyped fields");
    }
    if (event.event_type != "CONNECT" && event.event_type != "MESSAGE" && event.event_type != "DISCONNECT") {
        return fail(errc::invalid_request, "unknown eventType");
    }
    if (event.connection_id.empty()) {
        return fail(errc::invalid_request, "empty connectionId");
    }

    if (auto const id_it = ctx.find("identity"); id_it != ctx.end() && id_it->is_object()) {
        if (!read_string(*id_it, "sourceIp", event.source_ip, false) ||
            !read_string(*id_it, "userAgent", event.user_agent, false)) {
            return fail(errc::invalid_request, "identity has mistyped fields");
        }
    }

    if (auto const code_it = ctx.find("disconnectStatusCode"); code_it != ctx.end() && !code_it->is_null()) {
        if (!code_it->is_number_integer()) {
            return fail(errc::invalid_request, "disconnectStatusCode is not an integer");
        }
        event.disconnect_status_code = code_it->get<int>();
    }

    if (auto const body_it = doc.find("body"); body_it != doc.end() && !body_it->is_null()) {
        if (!body_it->is_string()) {
            return fail(errc::invalid_request, "body is not a string");
        }
        event.body = body_it->get<std::string>();
    }

    if (auto const h_it = doc.find("headers"); h_it != doc.end() && h_it->is_object()) {
        for (auto const& [name, value] : h_it->items()) {
            if (value.is_string() && name.size() == 17) {
                std::string lower = name;
                for (auto& ch : lower) {
                    ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
                }
                if (lower == "x-forwarded-proto") {
                    event.forwarded_proto = value.get<std::string>();
                }
            }
        }
    }

    if (auto const q_it = doc.find("queryStringParameters"); q_it != doc.end() && !q_it->is_null()) {
        if (!q_it->is_object()) {
            return fail(errc::invalid_request, "queryStringParameters is not an object");
        }
        for (auto const& [key, value] : q_it->items()) {
            if (!value.is_string()) {
                return fail(errc::invalid_request, "queryStringParameters has a non-string value");
            }
            event.query.emplace(key, value.get<std::string>());
        }
    }
    return event;
}

std::string callback_endpoint(apigw_event const& event)
{
    if (event.domain_name.empty()) {
        return {};
    }
    auto const* proto = event.forwarded_proto == "http" ? "http" : "https";
    std::string endpoint = std::string(proto) + "://" + event.domain_name;
    if (!event.stage.empty()) {
        endpoint += "/" + event.stage;
    }
    return endpoint;
}

std::string to_json(proxy_response const& response)
{
    json doc = json::object();
    doc["statusCode"] = response.status_code;
    if (!response.headers.empty()) {
        json headers = json::object();
        for (auto const& [name, value] : response.headers) {
            headers[name] = value;
        }
        doc["headers"] = std::move(headers);
    }
    if (response.body) {
        doc["body"] = *response.body;
    }
    doc["isBase64Encoded"] = false;
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<proxy_response> parse_proxy_response(std::string_view text)
{
    if (unsafe_json_text(text, limits::json_max_depth)) {
        return fail(errc::invalid_request, "response is not acceptable JSON (NUL byte or too deep)");
    }
    json const doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return fail(errc::invalid_request, "integration response is not a JSON object");
    }
    proxy_response response;
    auto const status_it = doc.find("statusCode");
    if (status_it == doc.end() || !status_it->is_number_integer()) {
        return fail(errc::invalid_request, "integration response has no integer statusCode");
    }
    auto const status = status_it->get<std::int64_t>();
    if (status < 100 || status > 599) {
        return fail(errc::invalid_request, "integration response statusCode out of range");
    }
    response.status_code = static_cast<int>(status);
    if (auto const body_it = doc.find("body"); body_it != doc.end() && !body_it->is_null()) {
        if (!body_it->is_string()) {
            return fail(errc::invalid_request, "integration response body is not a string");
        }
        response.body = body_it->get<std::string>();
    }
    if (auto const h_it = doc.find("headers"); h_it != doc.end() && !h_it->is_null()) {
        if (!h_it->is_object()) {
            return fail(errc::invalid_request, "integration response headers is not an object");
        }
        for (auto const& [name, value] : h_it->items()) {
            if (!value.is_string()) {
                return fail(errc::invalid_request, "integration response header is not a string");
            }
            response.headers.emplace_back(name, value.get<std::string>());
        }
    }
    return response;
}

} // namespace stratus
