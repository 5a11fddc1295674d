#pragma once

#include <cstdint>
#include <string>

#include "loadgen/loadgen_options.hpp"
#include "loadgen/payload_codec.hpp"
#include "loadgen/target_url.hpp"

namespace stratus::loadgen {

/// What every worker and client of one run shares, fixed before the first
/// connection (read-only afterwards, so threads share it without locks).
struct run_plan {
    loadgen_options options;
    target_url target;
    payload_codec codec{0, payload_codec::min_size};
    /// Stratus: the room every client joins.
    std::string room;
    /// Nanoseconds between two sends of one sender; 0 = closed loop.
    std::int64_t interval_ns = 0;

    [[nodiscard]] std::uint64_t messages_total() const
    {
        return std::uint64_t{options.senders} * options.messages;
    }
    [[nodiscard]] std::uint64_t expected_deliveries() const { return messages_total() * options.clients; }
};

} // namespace stratus::loadgen
