#include "loadgen/dev_token_client.hpp"

#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>

#include "loadgen/beast.hpp"
#include "loadgen/net.hpp"

namespace stratus::loadgen {
namespace {

using json = nlohmann::json;

// Opens a connection to the gateway with a 5 s limit on each operation.
result<std::unique_ptr<beast::tcp_stream>> open(net::io_context& ioc, target_url const& gateway)
{
    auto stream = std::make_unique<beast::tcp_stream>(ioc);
    beast::error_code ec;
    auto const address = net::ip::make_address(gateway.host, ec);
    if (ec) {
        return fail(errc::invalid_request, "bad host " + gateway.host);
    }
    stream->expires_after(std::chrono::seconds(5));
    stream->connect(tcp::endpoint(address, gateway.port), ec);
    if (ec) {
        return fail(errc::unavailable, "cannot connect to " + gateway.host + ":" +
                                           std::to_string(gateway.port) + ": " + ec.message());
    }
    return stream;
}

// One request/response on `stream`; nullopt when the connection failed (retry on a new one).
std::optional<http::response<http::string_body>> round_trip(beast::tcp_stream& stream,
                                                            http::request<http::string_body> const& req)
{
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(5));
    http::write(stream, req, ec);
    if (ec) {
        return std::nullopt;
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res, ec);
    if (ec) {
        return std::nullopt;
    }
    return res;
}

} // namespace

result<std::vector<std::string>> dev_token_client::fetch(target_url const& gateway,
                                                         std::vector<std::string> const& names)
{
    net::io_context ioc;
    auto stream = open(ioc, gateway);
    if (!stream) {
        return tl::unexpected(stream.error());
    }
    std::vector<std::string> tokens;
    tokens.reserve(names.size());
    bool reopen = false;
    for (auto const& name : names) {
        if (reopen) {
            // The server closed the previous keep-alive connection.
            stream = open(ioc, gateway);
            if (!stream) {
                return tl::unexpected(stream.error());
            }
        }
        http::request<http::string_body> req{http::verb::post, "/auth/dev-token", 11};
        req.set(http::field::host, gateway.host + ":" + std::to_string(gateway.port));
        req.set(http::field::content_type, "application/json");
        req.keep_alive(true);
        req.body() = json{{"name", name}}.dump();
        req.prepare_payload();
        auto res = round_trip(**stream, req);
        if (!res) {
            // The server may close a keep-alive connection: one retry on a fresh one.
            stream = open(ioc, gateway);
            if (!stream) {
                return tl::unexpected(stream.error());
            }
            res = round_trip(**stream, req);
            if (!res) {
                return fail(errc::unavailable, "POST /auth/dev-token failed");
            }
        }
        if (res->result() != http::status::ok) {
            return fail(errc::invalid_request, "POST /auth/dev-token answered " +
                                                   std::to_string(res->result_int()) + ": " + res->body());
        }
        auto const body = json::parse(res->body(), nullptr, false);
        if (!body.is_object() || !body.contains("token") || !body["token"].is_string()) {
            return fail(errc::unavailable, "POST /auth/dev-token: no token in " + res->body());
        }
        tokens.push_back(body["token"].get<std::string>());
        reopen = !res->keep_alive();
    }
    return tokens;
}

} // namespace stratus::loadgen
