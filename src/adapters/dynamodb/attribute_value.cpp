#include "adapters/dynamodb/attribute_value.hpp"

#include <charconv>

namespace stratus::dynamodb {

nlohmann::json attribute_value::s(std::string_view text)
{
    return nlohmann::json{{"S", std::string(text)}};
}

nlohmann::json attribute_value::n(std::int64_t number)
{
    return nlohmann::json{{"N", std::to_string(number)}};
}

std::optional<std::string> attribute_value::get_s(nlohmann::json const& item, std::string_view name)
{
    if (!item.is_object()) {
        return std::nullopt;
    }
    auto const attribute = item.find(name);
    if (attribute == item.end() || !attribute->is_object()) {
        return std::nullopt;
    }
    auto const value = attribute->find("S");
    if (value == attribute->end() || !value->is_string()) {
        return std::nullopt;
    }
    return value->get<std::string>();
}

std::optional<std::int64_t> attribute_value::get_n(nlohmann::json const& item, std::string_view name)
{
    if (!item.is_object()) {
        return std::nullopt;
    }
    auto const attribute = item.find(name);
    if (attribute == item.end() || !attribute->is_object()) {
        return std::nullopt;
    }
    auto const value = attribute->find("N");
    if (value == attribute->end() || !value->is_string()) {
        return std::nullopt;
    }
    auto const& text = value->get_ref<std::string const&>();
    std::int64_t number = 0;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return number;
}

} // namespace stratus::dynamodb
