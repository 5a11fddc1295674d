#include "core/message_id.hpp"

#include <array>
#include <random>

namespace stratus {

std::string make_message_id(std::int64_t now_ms)
{
    // One generator per thread, seeded from the OS once; ids need uniqueness, not secrecy.
    thread_local std::mt19937_64 rng{[] {
        std::random_device device;
        return (static_cast<std::uint64_t>(device()) << 32U) ^ device();
    }()};

    std::array<std::uint8_t, 16> bytes{};
    auto const ms = static_cast<std::uint64_t>(now_ms);
    for (int i = 0; i < 6; ++i) {
        bytes[static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(ms >> (8U * static_cast<unsigned>(5 - i)));
    }
    std::uint64_t const r1 = rng();
    std::uint64_t const r2 = rng();
    for (std::size_t i = 6; i < 16; ++i) {
        std::uint64_t const source = i < 11 ? r1 : r2;
        bytes[i] = static_cast<std::uint8_t>(source >> (8U * (i % 8)));
    }
    bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0FU) | 0x70U); // version 7
    bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3FU) | 0x80U); // RFC 9562 variant

    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(hex[bytes[i] >> 4U]);
        out.push_back(hex[bytes[i] & 0x0FU]);
    }
    return out;
}

} // namespace stratus
