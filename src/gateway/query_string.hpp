#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace stratus::gateway {

/// Percent-decoding and query strings, Beast-free.
class query_string {
public:
    /// Decodes %XX escapes. A '%' not followed by two hex digits -> errc::invalid_request.
    static result<std::string> percent_decode(std::string_view text);

    /// Splits "a=1&b=&c&a=2" into decoded (name, value) pairs in order, repeats
    /// kept. A pair whose escapes are malformed is kept as it was sent.
    static std::vector<std::pair<std::string, std::string>> parse(std::string_view query);
};

} // namespace stratus::gateway
