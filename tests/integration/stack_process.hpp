#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/child_process.hpp"

namespace stratus::testing {

/// Runs `stratus dev --port 0` on a fresh data directory for one test suite
/// and parses the URL it prints when ready. Killed (SIGTERM) on destruction.
class stack_process {
public:
    explicit stack_process(std::vector<std::string> extra_args = {})
    {
        data_dir_ = std::filesystem::temp_directory_path() /
                    ("stratus-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(data_dir_);
        std::vector<std::string> args{STRATUS_BINARY, "dev", "--host",     "127.0.0.1",
                                      "--port",       "0",   "--data-dir", data_dir_.string()};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        process_.emplace(std::move(args));
        // "Stratus local stack ready at http://127.0.0.1:PORT/"
        auto const rest = process_->wait_for_line("ready at http://");
        if (!rest) {
            throw std::runtime_error("stratus exited before it was ready");
        }
        port_ = static_cast<unsigned short>(std::stoi(rest->substr(rest->find(':') + 1)));
    }

    ~stack_process()
    {
        process_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(data_dir_, ignored);
    }

    stack_process(stack_process const&) = delete;
    stack_process& operator=(stack_process const&) = delete;

    [[nodiscard]] unsigned short port() const { return port_; }
    [[nodiscard]] std::filesystem::path const& data_dir() const { return data_dir_; }

private:
    static int& counter()
    {
        static int value = 0;
        return value;
    }

    std::optional<child_process> process_;
    unsigned short port_ = 0;
    std::filesystem::path data_dir_;
};

} // namespace stratus::testing
