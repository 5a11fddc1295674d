#pragma once

#include <string_view>

namespace stratus {

/// Outbound port: operational log lines (refused handshakes, store failures).
/// Never receives message text or tokens.
class logger {
public:
    virtual ~logger() = default;

    /// Something went wrong that the operator may want to see; the request was answered.
    virtual void warn(std::string_view what, std::string_view detail) = 0;
};

/// A logger that drops everything (tests, benchmarks).
class null_logger final : public logger {
public:
    void warn(std::string_view, std::string_view) override {}
};

} // namespace stratus
