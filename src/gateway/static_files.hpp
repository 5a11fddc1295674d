#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace stratus::gateway {

/// Serving web/: path resolution that cannot escape the root, content types,
/// caching and security headers. Free of Beast so it compiles quickly.
class static_files {
public:
    /// Maps a request path ("/", "/app.js", "/img/a%20b.png") to a regular
    /// file under `root`. "/" and directories map to index.html. Encoded or
    /// literal "..", NUL, backslashes and bad percent-encoding ->
    /// errc::invalid_request; missing -> errc::not_found.
    static result<std::filesystem::path> resolve(std::filesystem::path const& root, std::string_view path);

    /// Content-Type for a file name ("text/html; charset=utf-8", ...).
    static std::string_view content_type(std::filesystem::path const& file);

    /// Cache-Control: every file revalidates (no-cache, with an ETag), since
    /// the files carry no content hash in their names: a deploy is seen at once
    /// and an unchanged file costs a 304.
    static std::string_view cache_control(std::filesystem::path const& file);

    /// A validator for If-None-Match: "<size>-<mtime ns>" in hex, quoted;
    /// "" when the file cannot be read.
    static std::string etag(std::filesystem::path const& file);

    /// Headers on every HTTP response: CSP (no inline script, WebSocket to self), framing, referrer.
    static std::vector<std::pair<std::string, std::string>> const& security_headers();
};

} // namespace stratus::gateway
