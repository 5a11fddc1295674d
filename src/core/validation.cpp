#include "core/validation.hpp"

#include <cstdint>
#include <string>

namespace stratus {
namespace {

bool is_continuation(unsigned char c)
{
    return (c & 0xC0U) == 0x80U;
}

// Rejects C0 controls except tab/newline (and CR in text), DEL and C1 controls.
bool has_forbidden_control(std::string_view text, bool allow_newlines)
{
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto const c = static_cast<unsigned char>(text[i]);
        if (c < 0x20U) {
            bool const ok = allow_newlines && (c == '\n' || c == '\t' || c == '\r');
            if (!ok) {
                return true;
            }
        } else if (c == 0x7FU) {
            return true;
        } else if (c == 0xC2U && i + 1 < text.size()) {
            // U+0080..U+009F (C1 controls) are encoded as C2 80..C2 9F.
            auto const next = static_cast<unsigned char>(text[i + 1]);
            if (next >= 0x80U && next <= 0x9FU) {
                return true;
            }
        }
    }
    return false;
}

bool is_blank(std::string_view text)
{
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

} // namespace

bool is_valid_utf8(std::string_view text) noexcept
{
    std::size_t i = 0;
    auto const n = text.size();
    while (i < n) {
        auto const c = static_cast<unsigned char>(text[i]);
        if (c < 0x80U) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xC2U && c <= 0xDFU) {
            len = 2;
            cp = c & 0x1FU;
        } else if (c >= 0xE0U && c <= 0xEFU) {
            len = 3;
            cp = c & 0x0FU;
        } else if (c >= 0xF0U && c <= 0xF4U) {
            len = 4;
            cp = c & 0x07U;
        } else {
            return false; // stray continuation, overlong lead (C0/C1) or > F4
        }
        if (i + len > n) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            auto const cc = static_cast<unsigned char>(text[i + k]);
            if (!is_continuation(cc)) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        if ((len == 3 && cp < 0x800U) || (len == 4 && cp < 0x10000U) || cp > 0x10FFFFU ||
            (cp >= 0xD800U && cp <= 0xDFFFU)) {
            return false; // overlong, out of range or a surrogate
        }
        i += len;
    }
    return true;
}

std::size_t utf8_length(std::string_view text) noexcept
{
    std::size_t count = 0;
    for (char ch : text) {
        if (!is_continuation(static_cast<unsigned char>(ch))) {
            ++count;
        }
    }
    return count;
}

bool unsafe_json_text(std::string_view json, int max_depth) noexcept
{
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char ch : json) {
        if (ch == '\0') {
            return true;
        }
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (ch == '\\') {
                escaped = true;
            } else if (ch == '"') {
                in_string = false;
            }
            continue;
        }
        if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max_depth) {
                return true;
            }
        } else if (ch == ']' || ch == '}') {
            --depth;
        }
    }
    return false;
}

result<void> validate_room(std::string_view room)
{
    if (room.empty() || room.size() > limits::room_max_chars) {
        return fail(errc::invalid_request, "room must be 1-64 characters");
    }
    if (room.front() == '.' || room.front() == '-') {
        return fail(errc::invalid_request, "room must not start with '.' or '-'");
    }
    for (char ch : room) {
        bool const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '.' || ch == '_' || ch == '-';
        if (!ok) {
            return fail(errc::invalid_request, "room may contain only letters, digits, '.', '_' and '-'");
        }
    }
    return {};
}

result<void> validate_text(std::string_view text)
{
    if (text.size() > limits::text_max_bytes) {
        return fail(errc::too_large, "text exceeds 16384 bytes");
    }
    if (!is_valid_utf8(text)) {
        return fail(errc::invalid_request, "text is not valid UTF-8");
    }
    if (utf8_length(text) > limits::text_max_code_points) {
        return fail(errc::too_large, "text exceeds 4000 characters");
    }
    if (is_blank(text)) {
        return fail(errc::invalid_request, "text must not be empty");
    }
    if (has_forbidden_control(text, true)) {
        return fail(errc::invalid_request, "text contains control characters");
    }
    return {};
}

result<void> validate_client_msg_id(std::string_view id)
{
    if (id.empty() || id.size() > limits::client_msg_id_max_chars) {
        return fail(errc::invalid_request, "clientMsgId must be 1-64 characters");
    }
    for (char ch : id) {
        bool const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '_' || ch == '-';
        if (!ok) {
            return fail(errc::invalid_request, "clientMsgId may contain only letters, digits, '_' and '-'");
        }
    }
    return {};
}

result<void> validate_name(std::string_view name)
{
    if (!is_valid_utf8(name)) {
        return fail(errc::invalid_request, "name is not valid UTF-8");
    }
    auto const length = utf8_length(name);
    if (length == 0 || length > limits::name_max_code_points) {
        return fail(errc::invalid_request, "name must be 1-32 characters");
    }
    if (has_forbidden_control(name, false)) {
        return fail(errc::invalid_request, "name contains control characters");
    }
    if (name.front() == ' ' || name.back() == ' ') {
        return fail(errc::invalid_request, "name must not start or end with a space");
    }
    return {};
}

} // namespace stratus
