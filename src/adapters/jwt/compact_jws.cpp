#include "adapters/jwt/compact_jws.hpp"

#include <cstdint>
#include <utility>

namespace stratus {
namespace {

/// base64url value of `ch`, or -1 outside the alphabet.
int base64url_value(char ch) noexcept
{
    if (ch >= 'A' && ch <= 'Z') {
        return ch - 'A';
    }
    if (ch >= 'a' && ch <= 'z') {
        return ch - 'a' + 26;
    }
    if (ch >= '0' && ch <= '9') {
        return ch - '0' + 52;
    }
    if (ch == '-') {
        return 62;
    }
    if (ch == '_') {
        return 63;
    }
    return -1;
}

} // namespace

std::optional<std::string> decode_canonical_base64url(std::string_view text)
{
    if (text.empty() || text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char ch : text) {
        int const value = base64url_value(ch);
        if (value < 0) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFFU));
        }
    }
    // 2 or 4 bits are left over for lengths 3 and 2 (mod 4); they must be zero.
    if ((buffer & ((1U << bits) - 1U)) != 0) {
        return std::nullopt;
    }
    return out;
}

std::optional<compact_jws> compact_jws::split(std::string_view token)
{
    auto const first_dot = token.find('.');
    if (first_dot == std::string_view::npos) {
        return std::nullopt;
    }
    auto const second_dot = token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    auto header = decode_canonical_base64url(token.substr(0, first_dot));
    auto payload = decode_canonical_base64url(token.substr(first_dot + 1, second_dot - first_dot - 1));
    auto signature = decode_canonical_base64url(token.substr(second_dot + 1));
    if (!header || !payload || !signature) {
        return std::nullopt;
    }
    return compact_jws{token.substr(0, second_dot), std::move(*header), std::move(*payload),
                       std::move(*signature)};
}

} // namespace stratus
