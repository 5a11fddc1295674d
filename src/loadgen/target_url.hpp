#pragma once

#include <cstdint>
#include <string>

#include "core/result.hpp"

namespace stratus::loadgen {

/// A ws:// URL on this machine: the load generator measures loopback only.
struct target_url {
    std::string host;
    std::uint16_t port = 0;
    /// The request target, starting with '/' (the stage for Stratus).
    std::string path;

    /// Parses ws://HOST:PORT[/PATH]. HOST must be 127.0.0.1, ::1 (in brackets)
    /// or localhost. Errors: invalid_request.
    [[nodiscard]] static result<target_url> parse(std::string const& url);
};

} // namespace stratus::loadgen
