#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace stratus {

/// Transport-neutral error categories. Adapters map their world onto these
/// (HTTP 410 -> gone, SQLITE_BUSY -> unavailable, ...); core maps them onto
/// protocol error codes.
enum class errc {
    invalid_request,
    unauthorized,
    not_found,
    not_member,
    too_large,
    conflict,
    gone,
    throttled,
    unavailable,
    internal,
};

/// The error value that crosses ports.
struct error {
    errc code = errc::internal;
    std::string detail;
};

/// Result of any operation that can fail across a port. This is the only
/// place that names tl::; moving to std::expected is a one-line change.
template <class T>
using result = tl::expected<T, error>;

/// Builds the failure side of a result<T>.
inline tl::unexpected<error> fail(errc code, std::string detail)
{
    return tl::unexpected<error>(error{code, std::move(detail)});
}

/// Stable lower-case name of an error category ("not_member", ...).
std::string_view to_string(errc code) noexcept;

} // namespace stratus
