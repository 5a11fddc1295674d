#include "loadgen/delivery_tracker.hpp"

#include <algorithm>

namespace stratus::loadgen {

delivery_tracker::delivery_tracker(std::size_t messages, std::size_t receivers)
    : words_per_message_((receivers + 63) / 64), seen_(messages * words_per_message_, 0), count_(messages, 0),
      max_latency_(messages, -1)
{
    latencies_.reserve(messages * receivers);
}

bool delivery_tracker::record(std::size_t message, std::size_t receiver, std::int64_t latency_ns,
                              std::int64_t now_ns)
{
    auto& word = seen_[message * words_per_message_ + receiver / 64];
    auto const bit = std::uint64_t{1} << (receiver % 64);
    if ((word & bit) != 0) {
        ++duplicates_;
        return false;
    }
    word |= bit;
    ++count_[message];
    max_latency_[message] = std::max(max_latency_[message], latency_ns);
    latencies_.push_back(latency_ns);
    last_delivery_ns_ = std::max(last_delivery_ns_, now_ns);
    return true;
}

} // namespace stratus::loadgen
