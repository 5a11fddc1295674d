#include "loadgen/payload_codec.hpp"

#include <array>
#include <charconv>

namespace stratus::loadgen {
namespace {

constexpr char padding = '.';

// Appends the decimal digits of `value` and a ':'.
template <class Int>
void append_field(std::string& out, Int value)
{
    std::array<char, 24> digits{};
    auto const [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), end);
    out.push_back(':');
}

// Parses "<digits>:" at the front of `text`, advancing it; false if malformed.
template <class Int>
bool take_field(std::string_view& text, Int& value)
{
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() || end == text.data() + text.size() || *end != ':') {
        return false;
    }
    text.remove_prefix(static_cast<std::size_t>(end - text.data()) + 1);
    return true;
}

} // namespace

payload_codec::payload_codec(std::uint32_t nonce, std::size_t size) : size_(size < min_size ? min_size : size)
{
    constexpr std::string_view hex = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) {
        nonce_.push_back(hex[(nonce >> static_cast<unsigned>(shift)) & 0xfU]);
    }
}

void payload_codec::encode(std::string& out, std::uint32_t sender, std::uint32_t index,
                           std::int64_t sent_ns) const
{
    out.clear();
    out.reserve(size_);
    out.append(nonce_);
    out.push_back(':');
    append_field(out, sender);
    append_field(out, index);
    append_field(out, sent_ns);
    out.resize(size_, padding);
}

std::optional<decoded_payload> payload_codec::decode(std::string_view text) const
{
    if (text.size() != size_ || text.substr(0, nonce_.size()) != nonce_ || text[nonce_.size()] != ':') {
        return std::nullopt;
    }
    text.remove_prefix(nonce_.size() + 1);
    decoded_payload fields;
    if (!take_field(text, fields.sender) || !take_field(text, fields.index) ||
        !take_field(text, fields.sent_ns)) {
        return std::nullopt;
    }
    if (text.find_first_not_of(padding) != std::string_view::npos) {
        return std::nullopt;
    }
    return fields;
}

} // namespace stratus::loadgen
