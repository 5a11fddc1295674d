#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stratus::aws {

/// Where requests go: "https://dynamodb.us-east-1.amazonaws.com" or
/// "http://127.0.0.1:8000/local" (the path is a base prefix, e.g. a stage).
struct endpoint {
    bool tls = true;
    std::string host;
    std::uint16_t port = 443;
    std::string base_path; ///< "" or "/local" (no trailing slash)

    /// The Host header value: the host, plus ":port" when not the scheme's default.
    [[nodiscard]] std::string host_header() const;

    /// Parses "http(s)://host[:port][/base]". Anything else -> nullopt.
    [[nodiscard]] static std::optional<endpoint> parse(std::string_view url);
};

/// One HTTP/1.1 request as the AWS clients build and sign it.
struct http_request {
    std::string method = "GET";
    /// Path and query exactly as sent on the wire (already percent-encoded).
    std::string target = "/";
    /// Header names in the case they are sent; the signer lower-cases for signing.
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    /// The first header with this name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    /// Replaces (or adds) a header.
    void set_header(std::string name, std::string value);
};

/// One HTTP response.
struct http_response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

} // namespace stratus::aws
