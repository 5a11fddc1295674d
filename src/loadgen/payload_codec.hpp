#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stratus::loadgen {

/// What a receiver learns from a message text without any lookup.
struct decoded_payload {
    std::uint32_t sender = 0;
    std::uint32_t index = 0;
    /// steady_clock nanoseconds at the send (same machine, same process).
    std::int64_t sent_ns = 0;
};

/// The message text of one run: "NONCE:SENDER:INDEX:SENT_NS:" padded with '.'
/// to a fixed size. The nonce (8 hex digits) tells this run's messages from
/// anything else in the room; the fixed size and padding let a receiver check
/// that the payload arrived byte for byte.
class payload_codec {
public:
    /// Shortest `size` accepted (room for the largest header).
    static constexpr std::size_t min_size = 64;

    payload_codec(std::uint32_t nonce, std::size_t size);

    /// Replaces `out` with the text of message `index` of `sender`, stamped `sent_ns`.
    void encode(std::string& out, std::uint32_t sender, std::uint32_t index, std::int64_t sent_ns) const;

    /// The fields of a text this codec wrote; nullopt for anything else
    /// (another run, wrong size, damaged bytes).
    [[nodiscard]] std::optional<decoded_payload> decode(std::string_view text) const;

    [[nodiscard]] std::size_t size() const { return size_; }
    [[nodiscard]] std::string_view nonce() const { return nonce_; }

private:
    std::string nonce_;
    std::size_t size_;
};

} // namespace stratus::loadgen
