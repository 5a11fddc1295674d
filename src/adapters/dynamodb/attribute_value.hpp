#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace stratus::dynamodb {

/// Builds and reads DynamoDB AttributeValues in their JSON 1.0 form
/// ({"S":"text"}, {"N":"123"}). Numbers travel as decimal strings.
class attribute_value {
public:
    /// {"S": text}. The text may hold any bytes of valid UTF-8 (NUL included).
    [[nodiscard]] static nlohmann::json s(std::string_view text);

    /// {"N": "<decimal>"}.
    [[nodiscard]] static nlohmann::json n(std::int64_t number);

    /// item[name].S, or nullopt when the attribute is absent or not a string.
    [[nodiscard]] static std::optional<std::string> get_s(nlohmann::json const& item, std::string_view name);

    /// item[name].N as an integer, or nullopt when absent, not N, or not an
    /// integer that fits in 64 bits.
    [[nodiscard]] static std::optional<std::int64_t> get_n(nlohmann::json const& item, std::string_view name);
};

} // namespace stratus::dynamodb
