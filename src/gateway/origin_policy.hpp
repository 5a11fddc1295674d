#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace stratus::gateway {

/// Which browser origins may open a WebSocket (cross-site WebSocket hijacking:
/// a page on another site would otherwise connect with the user's cookies or
/// stored token). Rules, in order:
/// - no Origin header: allowed. Browsers always send Origin on a WebSocket
///   handshake, so its absence means a non-browser client (CLI, SDK, server),
///   which no cross-site page can drive;
/// - `*` in the list: any origin;
/// - same origin: the Origin's host[:port] equals the Host header;
/// - otherwise the Origin must equal an entry of the list exactly
///   (scheme://host[:port], compared case-insensitively, no trailing slash);
///   `null` (sandboxed frames, file://) only matches an explicit "null" entry.
class origin_policy {
public:
    explicit origin_policy(std::vector<std::string> allowed = {});

    [[nodiscard]] bool allows(std::string_view origin, bool origin_present, std::string_view host) const;

private:
    std::vector<std::string> allowed_;
    bool any_ = false;
};

} // namespace stratus::gateway
