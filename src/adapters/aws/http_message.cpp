#include "adapters/aws/http_message.hpp"

#include <algorithm>
#include <charconv>

namespace stratus::aws {
namespace {

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

std::optional<std::string_view> find_header(std::vector<std::pair<std::string, std::string>> const& headers,
                                            std::string_view name)
{
    for (auto const& [key, value] : headers) {
        if (iequals(key, name)) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

} // namespace

std::string endpoint::host_header() const
{
    bool const default_port = (tls && port == 443) || (!tls && port == 80);
    return default_port ? host : host + ":" + std::to_string(port);
}

std::optional<endpoint> endpoint::parse(std::string_view url)
{
    endpoint parsed;
    if (url.substr(0, 8) == "https://") {
        parsed.tls = true;
        parsed.port = 443;
        url.remove_prefix(8);
    } else if (url.substr(0, 7) == "http://") {
        parsed.tls = false;
        parsed.port = 80;
        url.remove_prefix(7);
    } else {
        return std::nullopt;
    }
    auto const slash = url.find('/');
    auto authority = url.substr(0, slash);
    auto path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    if (authority.empty() || authority.find('@') != std::string_view::npos ||
        path.find_first_of("?#") != std::string_view::npos) {
        return std::nullopt;
    }
    if (auto const colon = authority.rfind(':');
        colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
        auto const port_text = authority.substr(colon + 1);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
            return std::nullopt;
        }
        parsed.port = static_cast<std::uint16_t>(value);
        authority = authority.substr(0, colon);
    }
    if (authority.empty()) {
        return std::nullopt;
    }
    parsed.host = std::string(authority);
    parsed.base_path = std::string(path);
    return parsed;
}

std::optional<std::string_view> http_request::header(std::string_view name) const
{
    return find_header(headers, name);
}

void http_request::set_header(std::string name, std::string value)
{
    for (auto& [key, existing] : headers) {
        if (iequals(key, name)) {
            existing = std::move(value);
            return;
        }
    }
    headers.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> http_response::header(std::string_view name) const
{
    return find_header(headers, name);
}

} // namespace stratus::aws
