#include "gateway/event_builder.hpp"

#include <array>
#include <ctime>
#include <map>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

namespace stratus::gateway {
namespace {

using json = nlohmann::json;

std::string dump(json const& doc)
{
    return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::uint64_t random64()
{
    thread_local std::mt19937_64 rng{[] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32U) ^ device();
    }()};
    return rng();
}

std::tm utc(std::int64_t epoch_ms)
{
    auto const seconds = static_cast<std::time_t>(epoch_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return tm;
}

json request_context(connection_context const& ctx, std::string_view route_key, std::string_view event_type,
                     std::string_view request_id, std::int64_t now_ms)
{
    json identity = json::object();
    identity["sourceIp"] = ctx.source_ip;
    if (!ctx.user_agent.empty()) {
        identity["userAgent"] = ctx.user_agent;
    }
    return json{{"routeKey", route_key},
                {"eventType", event_type},
                {"extendedRequestId", request_id},
                {"requestTime", event_builder::clf_time(now_ms)},
                {"messageDirection", "IN"},
                {"stage", ctx.stage},
                {"connectedAt", ctx.connected_at_ms},
                {"requestTimeEpoch", now_ms},
                {"identity", identity},
                {"requestId", request_id},
                {"domainName", ctx.domain_name},
                {"connectionId", ctx.connection_id},
                {"apiId", ctx.api_id}};
}

// headers (last value wins) and multiValueHeaders (all values, in order).
void put_headers(json& event, std::vector<std::pair<std::string, std::string>> const& headers)
{
    json single = json::object();
    json multi = json::object();
    for (auto const& [name, value] : headers) {
        single[name] = value;
        multi[name].push_back(value);
    }
    event["headers"] = std::move(single);
    event["multiValueHeaders"] = std::move(multi);
}

std::string trace_id(std::int64_t now_ms)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "Root=1-";
    auto const seconds = static_cast<std::uint32_t>(now_ms / 1000);
    for (int shift = 28; shift >= 0; shift -= 4) {
        out.push_back(hex[(seconds >> static_cast<unsigned>(shift)) & 0xFU]);
    }
    out.push_back('-');
    for (int word = 0; word < 2; ++word) {
        auto const bits = random64();
        for (int i = 0; i < (word == 0 ? 16 : 8); ++i) {
            out.push_back(hex[(bits >> (4U * static_cast<unsigned>(i))) & 0xFU]);
        }
    }
    return out;
}

} // namespace

std::string event_builder::connect_event(connection_context const& ctx, handshake_info const& handshake,
                                         std::string_view request_id, std::int64_t now_ms)
{
    // The X-Forwarded-* and trace headers are the gateway's, as API Gateway's are: a
    // client's own copies are dropped (the handler derives the @connections endpoint
    // from X-Forwarded-Proto; found by fuzz/fuzz_http_request).
    auto headers = handshake.headers;
    std::erase_if(headers, [](auto const& header) {
        auto const& name = header.first;
        auto const lower = [&] {
            std::string out(name);
            for (auto& ch : out) {
                ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
            }
            return out;
        }();
        return lower == "x-forwarded-for" || lower == "x-forwarded-port" || lower == "x-forwarded-proto" ||
               lower == "x-amzn-trace-id";
    });
    headers.emplace_back("X-Amzn-Trace-Id", trace_id(now_ms));
    headers.emplace_back("X-Forwarded-For", ctx.source_ip);
    headers.emplace_back("X-Forwarded-Port", std::to_string(handshake.local_port));
    headers.emplace_back("X-Forwarded-Proto", "http");

    json event = json::object();
    put_headers(event, headers);
    if (!handshake.query.empty()) {
        json single = json::object();
        json multi = json::object();
        for (auto const& [name, value] : handshake.query) {
            single[name] = value;
            multi[name].push_back(value);
        }
        event["queryStringParameters"] = std::move(single);
        event["multiValueQueryStringParameters"] = std::move(multi);
    }
    event["requestContext"] = request_context(ctx, "$connect", "CONNECT", request_id, now_ms);
    event["isBase64Encoded"] = false;
    return dump(event);
}

std::string event_builder::message_event(connection_context const& ctx, std::string_view route_key,
                                         std::string_view body, std::string_view request_id,
                                         std::string_view message_id, std::int64_t now_ms)
{
    json event = json::object();
    auto context = request_context(ctx, route_key, "MESSAGE", request_id, now_ms);
    context["messageId"] = message_id;
    event["requestContext"] = std::move(context);
    event["body"] = body;
    event["isBase64Encoded"] = false;
    return dump(event);
}

std::string event_builder::disconnect_event(connection_context const& ctx, int status_code,
                                            std::string_view reason, std::string_view request_id,
                                            std::int64_t now_ms)
{
    json event = json::object();
    put_headers(event, {{"Host", ctx.host}, {"x-api-key", ""}, {"X-Forwarded-For", ""}, {"x-restapi", ""}});
    auto context = request_context(ctx, "$disconnect", "DISCONNECT", request_id, now_ms);
    context["disconnectStatusCode"] = status_code;
    context["disconnectReason"] = reason;
    event["requestContext"] = std::move(context);
    event["isBase64Encoded"] = false;
    return dump(event);
}

std::string event_builder::clf_time(std::int64_t epoch_ms)
{
    auto const tm = utc(epoch_ms);
    std::array<char, 64> buffer{};
    auto const n = std::strftime(buffer.data(), buffer.size(), "%d/%b/%Y:%H:%M:%S +0000", &tm);
    return std::string(buffer.data(), n);
}

std::string event_builder::iso8601(std::int64_t epoch_ms)
{
    auto const tm = utc(epoch_ms);
    std::array<char, 64> buffer{};
    auto n = std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(buffer.data(), n);
    auto const ms = static_cast<int>(epoch_ms % 1000);
    out += '.';
    out += static_cast<char>('0' + ms / 100);
    out += static_cast<char>('0' + (ms / 10) % 10);
    out += static_cast<char>('0' + ms % 10);
    out += 'Z';
    return out;
}

std::string event_builder::make_id()
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // 88 random bits -> 15 base64 characters (the 16th would carry 2 bits) + '='.
    auto const a = random64();
    auto const b = random64();
    std::string id;
    id.reserve(16);
    for (int i = 0; i < 10; ++i) {
        id.push_back(alphabet[(a >> (6U * static_cast<unsigned>(i))) & 0x3FU]);
    }
    for (int i = 0; i < 5; ++i) {
        id.push_back(alphabet[(b >> (6U * static_cast<unsigned>(i))) & 0x3FU]);
    }
    id.push_back('=');
    return id;
}

bool event_builder::is_domain_name(std::string_view text)
{
    if (text.empty() || text.size() > 262) {
        return false;
    }
    std::string_view host = text;
    std::string_view port;
    if (text.front() == '[') {
        auto const close = text.find(']');
        if (close == std::string_view::npos || close < 3) {
            return false;
        }
        for (char const ch : text.substr(1, close - 1)) {
            bool const ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                            (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
            if (!ok) {
                return false;
            }
        }
        host = text.substr(0, close + 1);
        auto const rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return false;
            }
            port = rest.substr(1);
            if (port.empty()) {
                return false;
            }
        }
    } else {
        if (auto const colon = text.find(':'); colon != std::string_view::npos) {
            host = text.substr(0, colon);
            port = text.substr(colon + 1);
            if (port.empty()) {
                return false;
            }
        }
        if (host.empty() || host.front() == '.' || host.front() == '-') {
            return false;
        }
        for (char const ch : host) {
            bool const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
            if (!ok) {
                return false;
            }
        }
    }
    if (!port.empty()) {
        if (port.size() > 5) {
            return false;
        }
        unsigned value = 0;
        for (char const ch : port) {
            if (ch < '0' || ch > '9') {
                return false;
            }
            value = value * 10 + static_cast<unsigned>(ch - '0');
        }
        if (value == 0 || value > 65535) {
            return false;
        }
    }
    return true;
}

bool event_builder::is_well_formed_id(std::string_view id)
{
    if (id.size() != 16 || id.back() != '=') {
        return false;
    }
    for (std::size_t i = 0; i + 1 < id.size(); ++i) {
        char const ch = id[i];
        bool const ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_' || ch == '+' || ch == '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

} // namespace stratus::gateway
