#pragma once

#include <iostream>
#include <mutex>
#include <string>

#include "core/ports/logger.hpp"

namespace stratus {

/// The logger port on standard error, one line per event.
class stderr_logger final : public logger {
public:
    // logger
    void warn(std::string_view what, std::string_view detail) override
    {
        std::string line = "stratus: ";
        line += what;
        line += ": ";
        line += detail;
        line += '\n';
        std::lock_guard lock(mutex_);
        std::cerr << line << std::flush;
    }

private:
    std::mutex mutex_;
};

} // namespace stratus
