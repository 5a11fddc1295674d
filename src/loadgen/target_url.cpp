#include "loadgen/target_url.hpp"

#include <charconv>
#include <string_view>

namespace stratus::loadgen {

result<target_url> target_url::parse(std::string const& url)
{
    constexpr std::string_view scheme = "ws://";
    auto const bad = [&](std::string const& why) {
        return fail(errc::invalid_request, "--url '" + url + "': " + why);
    };
    std::string_view rest = url;
    if (rest.substr(0, scheme.size()) != scheme) {
        return bad("must start with ws://");
    }
    rest.remove_prefix(scheme.size());
    auto const slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    target_url out;
    out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));

    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto const close = authority.find(']');
        if (close == std::string_view::npos || close + 1 >= authority.size() || authority[close + 1] != ':') {
            return bad("expected [::1]:PORT");
        }
        host = authority.substr(1, close - 1);
        port = authority.substr(close + 2);
    } else {
        auto const colon = authority.rfind(':');
        if (colon == std::string_view::npos) {
            return bad("a port is required");
        }
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
    }
    if (host == "localhost") {
        host = "127.0.0.1";
    }
    if (host != "127.0.0.1" && host != "::1") {
        return bad("loopback only (127.0.0.1, [::1] or localhost)");
    }
    unsigned value = 0;
    auto const [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
        return bad("invalid port");
    }
    out.host = std::string(host);
    out.port = static_cast<std::uint16_t>(value);
    return out;
}

} // namespace stratus::loadgen
