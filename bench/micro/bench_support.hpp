#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat_service.hpp"
#include "core/ports/pusher.hpp"
#include "core/ports/token_verifier.hpp"

namespace stratus::bench {

/// The chat core's options for a benchmark: one sender sends far faster than
/// a person, so the per-user rate limit (100/s, burst 1,000) is off, as
/// bench/run turns it off with --user-rate-limit 0.
inline chat_options unlimited_chat_options()
{
    chat_options options;
    options.user_rate_per_second = 0;
    return options;
}

/// A pusher that only counts: the cost of the port call itself, with no
/// transport behind it. Single-threaded use only (benchmarks run one thread).
class counting_pusher final : public pusher {
public:
    // pusher
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override
    {
        calls_ += 1;
        pushes_ += targets.size();
        bytes_ += targets.size() * payload.size();
        return std::vector<push_status>(targets.size(), push_status::sent);
    }

    [[nodiscard]] std::uint64_t calls() const { return calls_; }
    [[nodiscard]] std::uint64_t pushes() const { return pushes_; }
    [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

private:
    std::uint64_t calls_ = 0;
    std::uint64_t pushes_ = 0;
    std::uint64_t bytes_ = 0;
};

/// The benchmarks never run $connect: every token is refused.
class refusing_verifier final : public token_verifier {
public:
    // token_verifier
    result<identity> verify(std::string_view) override { return fail(errc::unauthorized, "benchmark"); }
};

/// Overwrites `digits` characters at `at` with `value` in decimal, zero-padded,
/// so that one prepared text gets a fresh id per iteration without a rebuild.
inline void stamp_counter(std::string& text, std::size_t at, std::size_t digits, std::uint64_t value)
{
    for (std::size_t i = digits; i > 0; --i) {
        text[at + i - 1] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

/// The connection id of member `i` of a benchmark room (16 characters, like API Gateway's).
inline std::string member_connection_id(int i)
{
    std::string id = "BenchConn" + std::to_string(i);
    id.resize(15, 'x');
    id.push_back('=');
    return id;
}

/// A chat text of `bytes` ASCII characters (the size of a typical message by default).
inline std::string chat_text(std::size_t bytes = 100)
{
    std::string text;
    text.reserve(bytes);
    static constexpr std::string_view words = "the quick brown fox jumps over the lazy dog ";
    while (text.size() < bytes) {
        text.push_back(words[text.size() % words.size()]);
    }
    return text;
}

} // namespace stratus::bench
