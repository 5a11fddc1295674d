#include "core/result.hpp"

namespace stratus {

std::string_view to_string(errc code) noexcept
{
    switch (code) {
    case errc::invalid_request:
        return "invalid_request";
    case errc::unauthorized:
        return "unauthorized";
    case errc::not_found:
        return "not_found";
    case errc::not_member:
        return "not_member";
    case errc::too_large:
        return "too_large";
    case errc::conflict:
        return "conflict";
    case errc::gone:
        return "gone";
    case errc::throttled:
        return "throttled";
    case errc::unavailable:
        return "unavailable";
    case errc::internal:
        return "internal";
    }
    return "internal";
}

} // namespace stratus
