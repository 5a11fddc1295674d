#include "gateway/query_string.hpp"

namespace stratus::gateway {
namespace {

int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

std::string decode_or_raw(std::string_view text)
{
    auto decoded = query_string::percent_decode(text);
    return decoded ? std::move(*decoded) : std::string(text);
}

} // namespace

result<std::string> query_string::percent_decode(std::string_view in)
{
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        if (i + 2 >= in.size()) {
            return fail(errc::invalid_request, "bad percent-encoding");
        }
        int const hi = hex_value(in[i + 1]);
        int const lo = hex_value(in[i + 2]);
        if (hi < 0 || lo < 0) {
            return fail(errc::invalid_request, "bad percent-encoding");
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> query_string::parse(std::string_view query)
{
    std::vector<std::pair<std::string, std::string>> pairs;
    while (!query.empty()) {
        auto const amp = query.find('&');
        auto const part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty()) {
            continue;
        }
        auto const eq = part.find('=');
        auto const name = part.substr(0, eq);
        auto const value = eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
        pairs.emplace_back(decode_or_raw(name), decode_or_raw(value));
    }
    return pairs;
}

} // namespace stratus::gateway
