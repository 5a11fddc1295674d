#include "dynamodb_capacity.hpp"

#include <algorithm>
#include <string>

namespace stratus::cost::capacity_rules {
namespace {

using json = nlohmann::json;

std::uint64_t decoded_base64_size(std::string const& text)
{
    auto const padding = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '='));
    return text.size() / 4 * 3 - std::min<std::uint64_t>(padding, 2);
}

// "Numbers are variable length, with up to 38 significant digits. Leading and
// trailing zeroes are trimmed." Size: 1 byte per two significant digits + 1.
std::uint64_t number_size(std::string const& text)
{
    std::string digits;
    for (char const ch : text) {
        if (ch >= '0' && ch <= '9') {
            digits.push_back(ch);
        } else if (ch == 'e' || ch == 'E') {
            break;
        }
    }
    auto const first = digits.find_first_not_of('0');
    if (first == std::string::npos) {
        return 2; // zero: one digit
    }
    auto const last = digits.find_last_not_of('0');
    auto const significant = static_cast<std::uint64_t>(last - first + 1);
    return (significant + 1) / 2 + 1;
}

} // namespace

std::uint64_t value_size(json const& value)
{
    if (!value.is_object() || value.empty()) {
        return 0;
    }
    auto const first = value.begin();
    auto const& type = first.key();
    auto const& content = first.value();
    if (type == "S") {
        return content.get<std::string>().size();
    }
    if (type == "N") {
        return number_size(content.get<std::string>());
    }
    if (type == "B") {
        return decoded_base64_size(content.get<std::string>());
    }
    if (type == "BOOL" || type == "NULL") {
        return 1;
    }
    if (type == "SS" || type == "NS" || type == "BS") {
        std::uint64_t total = 0;
        for (auto const& element : content) {
            auto const text = element.get<std::string>();
            total += type == "SS"   ? text.size()
                     : type == "NS" ? number_size(text)
                                    : decoded_base64_size(text);
        }
        return total;
    }
    if (type == "L") {
        std::uint64_t total = 3;
        for (auto const& element : content) {
            total += 1 + value_size(element);
        }
        return total;
    }
    if (type == "M") {
        std::uint64_t total = 3;
        for (auto const& [name, element] : content.items()) {
            total += 1 + name.size() + value_size(element);
        }
        return total;
    }
    return 0;
}

std::uint64_t item_size(json const& item)
{
    std::uint64_t total = 0;
    if (!item.is_object()) {
        return 0;
    }
    for (auto const& [name, value] : item.items()) {
        total += name.size() + value_size(value);
    }
    return total;
}

double write_units(std::uint64_t bytes, bool transactional)
{
    auto const units = std::max<std::uint64_t>(1, (bytes + 1023) / 1024);
    return static_cast<double>(units) * (transactional ? 2.0 : 1.0);
}

double read_units(std::uint64_t bytes, bool consistent, bool transactional)
{
    auto const units = static_cast<double>(std::max<std::uint64_t>(1, (bytes + 4095) / 4096));
    if (transactional) {
        return units * 2.0;
    }
    return consistent ? units : units / 2.0;
}

} // namespace stratus::cost::capacity_rules
