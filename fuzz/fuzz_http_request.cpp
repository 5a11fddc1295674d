// The gateway's HTTP request path, from raw bytes on the socket: Beast's
// request_parser<string_body> with the limits http_session sets, pipelined
// keep-alive requests, bytes arriving in pieces; then, for each request, the
// Beast-free decisions http_session and websocket_session make:
// - any Transfer-Encoding: refused once the header is read (411), so Beast's
//   chunk parser never runs;
// - WebSocket upgrade: stage path, origin_policy, query_string::parse, the
//   CONNECT event (event_builder) read back by parse_apigw_event;
// - /{stage}/@connections/{id} (and %40connections): the SigV4 prefix check,
//   percent_decode, event_builder::is_well_formed_id;
// - POST /auth/dev-token: the body's name -> jwt_dev_token_issuer -> a token
//   that hs256_token_verifier must accept for exactly that identity;
// - static files: static_files::resolve under a scratch web root that holds
//   symlinks pointing outside it.
// http_session itself needs a socket and a gateway, so its routing is
// restated here step by step (keep the two in sync).

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include "adapters/jwt/hs256_token_issuer.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "app/jwt_dev_token_issuer.hpp"
#include "core/apigw_event.hpp"
#include "core/validation.hpp"
#include "fuzz_support.hpp"
#include "gateway/event_builder.hpp"
#include "gateway/origin_policy.hpp"
#include "gateway/query_string.hpp"
#include "gateway/static_files.hpp"

namespace {

namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace fs = std::filesystem;
using json = nlohmann::json;
using request = http::request<http::string_body>;
using stratus::fuzz::expect;
using stratus::gateway::query_string;

// gateway_options defaults: stage "local", 128 KiB @connections payloads.
constexpr std::string_view stage_path = "/local";
constexpr std::size_t max_post_bytes = 131072;
constexpr std::size_t max_requests_per_input = 8;
constexpr std::string_view secret = "fuzz-only-secret-not-used-anywhere-else-0123456789";

std::string lower(std::string_view text)
{
    std::string out(text);
    for (auto& ch : out) {
        ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    }
    return out;
}

std::string_view without_trailing_slashes(std::string_view text)
{
    while (!text.empty() && text.back() == '/') {
        text.remove_suffix(1);
    }
    return text;
}

std::string_view view(boost::beast::string_view text)
{
    return {text.data(), text.size()};
}

/// A web root with files, a directory, and symlinks that lead out of it.
struct web_root {
    fs::path root;

    web_root()
    {
        std::string pattern = (fs::temp_directory_path() / "stratus-fuzz-web-XXXXXX").string();
        expect(::mkdtemp(pattern.data()) != nullptr, "mkdtemp for the web root");
        root = pattern;
        fs::create_directories(root / "css");
        fs::create_directories(root / "rooms");
        std::ofstream(root / "index.html") << "<!doctype html><title>fuzz</title>\n";
        std::ofstream(root / "app.js") << "export {};\n";
        std::ofstream(root / "css" / "style.css") << "body{}\n";
        std::ofstream(root / "rooms" / "index.html") << "rooms\n";
        std::error_code ec;
        fs::create_directory_symlink("/etc", root / "etc", ec);
        fs::create_symlink("/etc/hostname", root / "hostname.txt", ec);
        fs::create_symlink("../", root / "css" / "up", ec);
        canonical_root = fs::weakly_canonical(root).string();
    }
    ~web_root()
    {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    web_root(web_root const&) = delete;
    web_root& operator=(web_root const&) = delete;

    std::string canonical_root;
};

struct fixture {
    web_root web;
    stratus::fuzz::fixed_clock clock;
    stratus::hs256_token_issuer issuer{std::string(secret), "stratus-local", "stratus"};
    stratus::jwt_dev_token_issuer dev_tokens{std::string(secret), issuer, clock, 3600};
    stratus::hs256_token_verifier verifier{std::string(secret), "stratus-local", "stratus", clock};
    stratus::gateway::origin_policy same_origin_only{};
    stratus::gateway::origin_policy listed{{"https://chat.example.com", "http://localhost:5173/"}};
};

fixture& the_fixture()
{
    static fixture f;
    return f;
}

void check_origin(request const& req)
{
    auto& f = the_fixture();
    auto const origin = req.find(http::field::origin);
    bool const present = origin != req.end();
    auto const value = present ? view(origin->value()) : std::string_view{};
    auto const host = view(req[http::field::host]);
    auto const normalized = lower(without_trailing_slashes(value));
    bool const same_origin =
        !host.empty() && (normalized == "http://" + lower(host) || normalized == "https://" + lower(host));

    bool const allowed = f.same_origin_only.allows(value, present, host);
    expect(!present || allowed == same_origin, "default policy: only no Origin or the same origin");
    bool const listed = f.listed.allows(value, present, host);
    expect(!present || listed == (same_origin || normalized == "https://chat.example.com" ||
                                  normalized == "http://localhost:5173"),
           "listed policy: the list or the same origin");
    expect(!present || normalized != "null" || !allowed, "Origin: null is never same-origin");
}

void upgrade(request const& req, std::string_view target)
{
    check_origin(req);
    // websocket_session::run: the CONNECT event from the handshake.
    stratus::gateway::connection_context ctx;
    ctx.connection_id = stratus::gateway::event_builder::make_id();
    ctx.connected_at_ms = stratus::fuzz::fixed_clock::now_s * 1000;
    ctx.source_ip = "127.0.0.1";
    ctx.user_agent = std::string(view(req[http::field::user_agent]));
    ctx.host = std::string(view(req[http::field::host]));
    ctx.domain_name = "127.0.0.1:8080"; // gateway::domain_name(), never the Host header
    ctx.stage = "local";
    ctx.api_id = "fuzz";
    stratus::gateway::handshake_info handshake;
    handshake.local_port = 8080;
    for (auto const& field : req) {
        handshake.headers.emplace_back(std::string(view(field.name_string())),
                                       std::string(view(field.value())));
    }
    bool all_utf8 = true;
    std::map<std::string, std::string> expected_query;
    if (auto const q = target.find('?'); q != std::string_view::npos) {
        handshake.query = query_string::parse(target.substr(q + 1));
        for (auto const& [name, value] : handshake.query) {
            all_utf8 = all_utf8 && stratus::is_valid_utf8(name) && stratus::is_valid_utf8(value);
            expected_query[name] = value; // the last value wins in queryStringParameters
        }
    }
    auto const event = stratus::parse_apigw_event(
        stratus::gateway::event_builder::connect_event(ctx, handshake, "fuzz-request", ctx.connected_at_ms));
    expect(event.has_value(), "the gateway's CONNECT event parses");
    expect(event->event_type == "CONNECT" && event->route_key == "$connect", "CONNECT on $connect");
    expect(event->connection_id == ctx.connection_id, "the connection id survives");
    if (all_utf8) {
        expect(event->query == expected_query, "query parameters reach $connect as sent (last wins)");
    }
    expect(event->domain_name == "127.0.0.1:8080",
           "domainName is the gateway's, whatever the Host header says");
    expect(event->forwarded_proto == "http", "X-Forwarded-Proto is the gateway's, not the client's");
}

void connections_api(request const& req, std::string_view raw_id)
{
    if (view(req[http::field::authorization]).substr(0, 17) != "AWS4-HMAC-SHA256 ") {
        return; // 403 MissingAuthenticationTokenException
    }
    auto const decoded = query_string::percent_decode(raw_id);
    if (!decoded) {
        expect(raw_id.find('%') != std::string_view::npos, "only a '%' can make percent-decoding fail");
        return;
    }
    expect(decoded->size() <= raw_id.size(), "decoding never grows");
    if (raw_id.find('%') == std::string_view::npos) {
        expect(*decoded == raw_id, "no escapes: decoding is the identity");
    }
    if (stratus::gateway::event_builder::is_well_formed_id(*decoded)) {
        expect(decoded->size() == 16 && decoded->back() == '=', "a well-formed id is 16 chars ending in '='");
    }
}

void dev_token(request const& req)
{
    if (req.method() != http::verb::post) {
        return; // 405
    }
    auto const doc = json::parse(req.body(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("name") || !doc["name"].is_string()) {
        return; // 400
    }
    auto& f = the_fixture();
    auto const name = doc["name"].get<std::string>();
    auto const token = f.dev_tokens.issue(name);
    expect(token.has_value() == stratus::validate_name(name).has_value(),
           "a token for every valid name only");
    if (!token) {
        expect(token.error().code == stratus::errc::invalid_request, "a bad name is invalid_request");
        return;
    }
    expect(token->name == name, "the token is for the name asked");
    expect(stratus::hs256_token_verifier::is_valid_user_id(token->user_id), "the user id is valid");
    auto const who = f.verifier.verify(token->token);
    expect(who.has_value(), "the verifier accepts a dev token");
    expect(who->user_id == token->user_id && who->name == name, "the token carries exactly that identity");
}

void static_file(request const& req, std::string_view path)
{
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
        return; // 405
    }
    auto& f = the_fixture();
    auto const file = stratus::gateway::static_files::resolve(f.web.root, path);
    if (!file) {
        expect(file.error().code == stratus::errc::invalid_request ||
                   file.error().code == stratus::errc::not_found,
               "resolve fails with invalid_request or not_found");
        return;
    }
    auto const text = file->string();
    expect(text.size() > f.web.canonical_root.size() && text.starts_with(f.web.canonical_root) &&
               text[f.web.canonical_root.size()] == '/',
           "a resolved file is inside the web root");
    std::error_code ec;
    expect(fs::is_regular_file(*file, ec), "a resolved file is a regular file");
    expect(!stratus::gateway::static_files::content_type(*file).empty(), "every file has a content type");
}

void handle(request const& req)
{
    auto const target = view(req.target());
    auto const path = target.substr(0, target.find('?'));
    if (websocket::is_upgrade(req)) {
        if (path == stage_path) {
            upgrade(req, target);
        }
        return;
    }
    if (target.size() > 4096) {
        return; // 414
    }
    for (std::string_view prefix : {"/local/@connections/", "/local/%40connections/"}) {
        if (path.substr(0, prefix.size()) == prefix) {
            return connections_api(req, path.substr(prefix.size()));
        }
    }
    if (path == "/auth/dev-token") {
        return dev_token(req);
    }
    if (path == "/healthz") {
        return;
    }
    static_file(req, path);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const bytes = stratus::fuzz::as_text(data, size);
    // Bytes arrive all at once or in small reads, as a socket hands them out.
    std::size_t const read_size = size % 3 == 0 ? size : 1 + size % 61;
    std::size_t consumed = 0;
    std::size_t received = 0;
    for (std::size_t n = 0; n < max_requests_per_input && consumed < size; ++n) {
        // http_session::do_read: a fresh parser per request, with its limits.
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_post_bytes + 64 * 1024);
        parser.header_limit(16 * 1024);
        // async_read_header, then the body: the parser stops after the header.
        parser.eager(false);
        boost::beast::error_code ec;
        while (!ec && !parser.is_done()) {
            if (parser.is_header_done()) {
                // http_session::on_header: any Transfer-Encoding gets 411 and a close,
                // before a chunk is parsed.
                if (parser.get().find(http::field::transfer_encoding) != parser.get().end()) {
                    return 0;
                }
                parser.eager(true);
            }
            received = std::min(size, std::max(received, consumed) + read_size);
            for (;;) {
                auto const used =
                    parser.put(boost::asio::buffer(bytes.data() + consumed, received - consumed), ec);
                expect(used <= received - consumed, "the parser consumes what it was given at most");
                consumed += used;
                if (ec == http::error::need_more) {
                    ec = {};
                    break;
                }
                if (ec || parser.is_done() || used == 0 ||
                    (parser.is_header_done() &&
                     parser.get().find(http::field::transfer_encoding) != parser.get().end())) {
                    break;
                }
            }
            if (!ec && !parser.is_done() && received == size) {
                if (parser.got_some()) {
                    parser.put_eof(ec);
                    expect(ec || parser.is_done(), "put_eof completes or fails");
                }
                if (!parser.is_done()) {
                    return 0; // end of stream: the session closes
                }
            }
        }
        if (ec) {
            return 0; // 400 or 413, then close
        }
        auto const req = parser.release();
        handle(req);
        if (!req.keep_alive()) {
            return 0;
        }
    }
    return 0;
}
