#pragma once

#include <cstddef>
#include <string_view>

#include "core/result.hpp"

namespace stratus {

/// Documented input limits (docs/protocol.md). One place, so the docs, the
/// tests and the code cannot drift apart.
struct limits {
    static constexpr std::size_t room_max_chars = 64;
    static constexpr std::size_t text_max_code_points = 4000;
    static constexpr std::size_t text_max_bytes = 16 * 1024;
    static constexpr std::size_t client_msg_id_max_chars = 64;
    static constexpr std::size_t name_max_code_points = 32;
    static constexpr int history_max_limit = 100;
    static constexpr int history_default_limit = 50;
    static constexpr int json_max_depth = 32;
};

/// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

/// Number of code points in well-formed UTF-8.
[[nodiscard]] std::size_t utf8_length(std::string_view text) noexcept;

/// True when JSON text must not reach the parser: it nests arrays/objects
/// deeper than `max_depth` (hostile input could exhaust the stack), or it
/// holds a NUL byte (never valid in JSON text; nlohmann/json would stop there
/// and accept what came before).
[[nodiscard]] bool unsafe_json_text(std::string_view json, int max_depth) noexcept;

/// Room names: 1-64 of [A-Za-z0-9._-], not starting with '.' or '-'.
[[nodiscard]] result<void> validate_room(std::string_view room);

/// Message text: valid UTF-8, not blank, <= 4000 code points and 16 KiB, no
/// control characters other than tab and newline.
[[nodiscard]] result<void> validate_text(std::string_view text);

/// clientMsgId: 1-64 of [A-Za-z0-9_-] (a UUID fits).
[[nodiscard]] result<void> validate_client_msg_id(std::string_view id);

/// Display names: valid UTF-8, 1-32 code points, no control characters, no
/// leading or trailing spaces.
[[nodiscard]] result<void> validate_name(std::string_view name);

} // namespace stratus
