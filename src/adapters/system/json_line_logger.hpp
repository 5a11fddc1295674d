#pragma once

#include <iostream>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/ports/logger.hpp"

namespace stratus {

/// The logger port as JSON lines on standard output: what Lambda ships to
/// CloudWatch Logs, where each line stays one queryable event
/// ({"level":"warn","msg":...,"detail":...}). `write_line` lets the bootstrap
/// put its per-invocation lines through the same lock.
class json_line_logger final : public logger {
public:
    // logger
    void warn(std::string_view what, std::string_view detail) override
    {
        nlohmann::json line = {
            {"level", "warn"}, {"msg", std::string(what)}, {"detail", std::string(detail)}};
        write_line(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }

    /// Writes one complete line (a newline is added) and flushes.
    void write_line(std::string_view line)
    {
        std::lock_guard lock(mutex_);
        std::cout << line << '\n' << std::flush;
    }

private:
    std::mutex mutex_;
};

} // namespace stratus
