#pragma once

#include <string_view>

namespace stratus::loadgen {

/// The few fields the load generator reads from a server frame, found by
/// scanning the compact JSON the server writes instead of parsing it: at
/// 100k+ frames per second a full parse would cost the client more than the
/// server spends writing. Values are views into the frame, still JSON-escaped
/// (the load generator's own texts and ids never need escaping).
struct stratus_frame {
    /// "message", "ack", "joined", "error", "presence", ...; empty for API
    /// Gateway's own error frames ({"message": "Forbidden", ...}).
    std::string_view type;
    /// "message": the text.
    std::string_view text;
    /// "message", "ack", and "error" frames that carry it.
    std::string_view client_msg_id;
    /// "error": the error code.
    std::string_view code;
    /// "error" frames and the gateway's error frames: the human-readable message.
    std::string_view message;

    /// Scans one frame; fields that are absent stay empty.
    static stratus_frame scan(std::string_view frame);

    /// The raw (escaped) value of the string field `key` of a compact JSON
    /// object, or empty. Matches `"key":"` and `"key": "` only, so a key name
    /// inside a string value (where its quotes are escaped) is never taken.
    static std::string_view string_field(std::string_view frame, std::string_view key);
};

} // namespace stratus::loadgen
