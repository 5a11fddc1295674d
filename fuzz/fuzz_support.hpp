#pragma once

// Helpers shared by the libFuzzer targets (fuzz/README.md, docs/reliability.md "Fuzzing").

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/ports/clock.hpp"

namespace stratus::fuzz {

/// An invariant of a target. A failure prints what broke and aborts, so that
/// libFuzzer records the input (crash-<sha1>) like any sanitizer report.
inline void expect(bool ok, char const* what)
{
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant failed: %s\n", what);
        std::fflush(stderr);
        std::abort();
    }
}

inline std::string_view as_text(std::uint8_t const* data, std::size_t size) noexcept
{
    return {reinterpret_cast<char const*>(data), size};
}

/// Splits `text` at every NUL byte: multi-part inputs (a route table and a
/// frame, a JWT header and payload) stay readable in the corpus, and none of
/// the parts can hold NUL, which every JSON parser here refuses anyway.
inline std::vector<std::string_view> split_parts(std::string_view text)
{
    std::vector<std::string_view> parts;
    for (;;) {
        auto const nul = text.find('\0');
        parts.push_back(text.substr(0, nul));
        if (nul == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(nul + 1);
    }
}

/// Unpadded base64url (RFC 4648 §5), written here so that the oracles do not
/// trust the encoder of the code under test.
inline std::string base64url(std::string_view bytes)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char ch : bytes) {
        buffer = (buffer << 8U) | static_cast<unsigned char>(ch);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(buffer >> static_cast<unsigned>(bits)) & 0x3FU]);
        }
    }
    if (bits > 0) {
        out.push_back(alphabet[(buffer << static_cast<unsigned>(6 - bits)) & 0x3FU]);
    }
    return out;
}

/// A clock that never moves: token checks are reproducible from the input alone.
class fixed_clock final : public clock {
public:
    /// 2023-11-14T22:13:20Z, the "now" of every token in the corpora.
    static constexpr std::int64_t now_s = 1'700'000'000;

    std::int64_t now_ms() override { return now_s * 1000; }
};

} // namespace stratus::fuzz
