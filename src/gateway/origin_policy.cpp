#include "gateway/origin_policy.hpp"

#include <algorithm>

namespace stratus::gateway {

namespace {

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return out;
}

std::string_view trim_slash(std::string_view text)
{
    while (!text.empty() && text.back() == '/') {
        text.remove_suffix(1);
    }
    return text;
}

} // namespace

origin_policy::origin_policy(std::vector<std::string> allowed)
{
    for (auto const& entry : allowed) {
        if (entry == "*") {
            any_ = true;
        } else {
            allowed_.push_back(lower(trim_slash(entry)));
        }
    }
}

bool origin_policy::allows(std::string_view origin, bool origin_present, std::string_view host) const
{
    if (!origin_present) {
        return true;
    }
    if (any_) {
        return true;
    }
    auto const normalized = lower(trim_slash(origin));
    for (auto const& entry : allowed_) {
        if (entry == normalized) {
            return true;
        }
    }
    // Same origin: "http(s)://" + Host.
    std::string_view rest = normalized;
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else {
        return false;
    }
    return !host.empty() && rest == lower(host);
}

} // namespace stratus::gateway
