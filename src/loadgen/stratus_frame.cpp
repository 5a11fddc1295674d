#include "loadgen/stratus_frame.hpp"

namespace stratus::loadgen {

std::string_view stratus_frame::string_field(std::string_view frame, std::string_view key)
{
    std::size_t from = 0;
    while (from < frame.size()) {
        auto const at = frame.find(key, from);
        if (at == std::string_view::npos) {
            return {};
        }
        from = at + key.size();
        // The key must be a whole JSON string followed by a colon.
        if (at == 0 || frame[at - 1] != '"' || from >= frame.size() || frame[from] != '"') {
            continue;
        }
        auto pos = from + 1;
        if (pos < frame.size() && frame[pos] == ':') {
            ++pos;
        } else {
            continue;
        }
        if (pos < frame.size() && frame[pos] == ' ') {
            ++pos;
        }
        if (pos >= frame.size() || frame[pos] != '"') {
            continue; // not a string value
        }
        auto const begin = ++pos;
        // The value ends at the first quote that is not escaped.
        while (pos < frame.size()) {
            if (frame[pos] == '\\') {
                pos += 2;
                continue;
            }
            if (frame[pos] == '"') {
                return frame.substr(begin, pos - begin);
            }
            ++pos;
        }
        return {};
    }
    return {};
}

stratus_frame stratus_frame::scan(std::string_view frame)
{
    stratus_frame out;
    out.type = string_field(frame, "type");
    if (out.type == "message") {
        out.text = string_field(frame, "text");
        out.client_msg_id = string_field(frame, "clientMsgId");
    } else if (out.type == "ack") {
        out.client_msg_id = string_field(frame, "clientMsgId");
    } else if (out.type == "error") {
        out.code = string_field(frame, "code");
        out.message = string_field(frame, "message");
        out.client_msg_id = string_field(frame, "clientMsgId");
    } else if (out.type.empty()) {
        out.message = string_field(frame, "message");
    }
    return out;
}

} // namespace stratus::loadgen
