#include "gateway/static_files.hpp"

#include "gateway/query_string.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <system_error>

namespace stratus::gateway {

result<std::filesystem::path> static_files::resolve(std::filesystem::path const& root, std::string_view path)
{
    if (path.empty() || path.front() != '/') {
        return fail(errc::invalid_request, "path must start with '/'");
    }
    auto decoded = query_string::percent_decode(path);
    if (!decoded) {
        return tl::unexpected(decoded.error());
    }
    std::filesystem::path relative;
    std::string_view rest = *decoded;
    while (!rest.empty()) {
        auto const slash = rest.find('/');
        auto const segment = rest.substr(0, slash);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        if (segment.empty() || segment == ".") {
            continue;
        }
        if (segment == ".." || segment.find('\0') != std::string_view::npos ||
            segment.find('\\') != std::string_view::npos) {
            return fail(errc::invalid_request, "path escapes the web root");
        }
        relative /= std::string(segment);
    }
    std::error_code ec;
    auto file = root / relative;
    if (std::filesystem::is_directory(file, ec)) {
        file /= "index.html";
    }
    if (!std::filesystem::is_regular_file(file, ec)) {
        return fail(errc::not_found, "no such file");
    }
    // Symlinks could still point outside: compare canonical forms.
    auto const canonical_root = std::filesystem::weakly_canonical(root, ec);
    auto const canonical_file = std::filesystem::weakly_canonical(file, ec);
    if (ec) {
        return fail(errc::not_found, "no such file");
    }
    auto const root_text = canonical_root.native();
    auto const file_text = canonical_file.native();
    if (file_text.compare(0, root_text.size(), root_text) != 0 ||
        (file_text.size() > root_text.size() && file_text[root_text.size()] != '/')) {
        return fail(errc::invalid_request, "path escapes the web root");
    }
    return canonical_file;
}

std::string_view static_files::content_type(std::filesystem::path const& file)
{
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> types{{
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".webp", "image/webp"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
        {".webmanifest", "application/manifest+json"},
    }};
    auto const ext = file.extension().string();
    for (auto const& [suffix, type] : types) {
        if (ext == suffix) {
            return type;
        }
    }
    return "application/octet-stream";
}

std::string_view static_files::cache_control(std::filesystem::path const&)
{
    return "no-cache";
}

std::string static_files::etag(std::filesystem::path const& file)
{
    std::error_code ec;
    auto const size = std::filesystem::file_size(file, ec);
    if (ec) {
        return {};
    }
    auto const modified = std::filesystem::last_write_time(file, ec);
    if (ec) {
        return {};
    }
    auto const ns = std::chrono::duration_cast<std::chrono::nanoseconds>(modified.time_since_epoch()).count();
    char buffer[64];
    auto const n = std::snprintf(buffer, sizeof buffer, "\"%jx-%jx\"", static_cast<std::uintmax_t>(size),
                                 static_cast<std::uintmax_t>(ns));
    return std::string(buffer, static_cast<std::size_t>(n));
}

std::vector<std::pair<std::string, std::string>> const& static_files::security_headers()
{
    static std::vector<std::pair<std::string, std::string>> const headers{
        // Nothing inline, nothing from elsewhere; the WebSocket and the token
        // endpoint are this origin ('self' covers ws:/wss: to it).
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "font-src 'self'; manifest-src 'self'; connect-src 'self'; object-src 'none'; "
         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "
         "require-trusted-types-for 'script'"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
    };
    return headers;
}

} // namespace stratus::gateway
