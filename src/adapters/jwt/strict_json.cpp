#include "adapters/jwt/strict_json.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/validation.hpp"

namespace stratus {

result<nlohmann::json> parse_strict_json_object(std::string_view text, int max_depth, errc code,
                                                std::string_view what)
{
    using json = nlohmann::json;
    if (unsafe_json_text(text, max_depth)) {
        return fail(code, std::string(what) + " nests too deeply or holds NUL");
    }
    // The member names seen so far in each object that is still open.
    std::vector<std::vector<std::string>> keys_per_object;
    bool duplicate = false;
    auto const on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            keys_per_object.emplace_back();
        } else if (event == json::parse_event_t::object_end && !keys_per_object.empty()) {
            keys_per_object.pop_back();
        } else if (event == json::parse_event_t::key && !keys_per_object.empty()) {
            auto& seen = keys_per_object.back();
            auto const& key = parsed.get_ref<std::string const&>();
            duplicate = duplicate || std::find(seen.begin(), seen.end(), key) != seen.end();
            seen.push_back(key);
        }
        return true;
    };
    json value = json::parse(text.begin(), text.end(), on_event, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
        return fail(code, std::string(what) + " is not valid JSON");
    }
    if (duplicate) {
        return fail(code, std::string(what) + " has duplicate member names");
    }
    if (!value.is_object()) {
        return fail(code, std::string(what) + " is not a JSON object");
    }
    return value;
}

} // namespace stratus
