#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loadgen/loadgen_options.hpp"

namespace CLI {
class App;
} // namespace CLI

namespace stratus::loadgen {

/// The `stratus loadgen` subcommand: its options and what it runs.
class loadgen_command {
public:
    /// Registers `loadgen` on `app`; the returned object holds the parsed options.
    static std::unique_ptr<loadgen_command> add_to(CLI::App& app);

    /// True when the command line chose `loadgen`.
    [[nodiscard]] bool parsed() const;

    /// Runs the load generator: the JSON report on stdout and 0, or a message
    /// on stderr and 1 (the run failed) or 2 (bad options).
    int run();

private:
    loadgen_command() = default;

    CLI::App* command_ = nullptr;
    loadgen_options options_;
    std::string protocol_ = "stratus";
    double connect_timeout_s_ = 30;
    double drain_timeout_s_ = 5;
    double settle_ms_ = 300;
    double max_seconds_ = 120;
    std::vector<std::string> watch_;
};

} // namespace stratus::loadgen
