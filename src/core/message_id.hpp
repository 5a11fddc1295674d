#pragma once

#include <cstdint>
#include <string>

namespace stratus {

/// A UUIDv7 string (RFC 9562): 48-bit millisecond timestamp then random bits,
/// so ids sort by creation time. Thread-safe.
[[nodiscard]] std::string make_message_id(std::int64_t now_ms);

} // namespace stratus
