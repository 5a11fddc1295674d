#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "gateway/beast.hpp"
#include "gateway/net.hpp"

namespace stratus::gateway {

/// A pass-through stream layer under websocket::stream that watches the
/// client's frame headers and flags any frame whose payload exceeds a limit.
/// Beast enforces a maximum *message* size but not a per-frame one; API
/// Gateway closes with 1009 above 32 KB per frame, so the session checks
/// oversized() after each read.
template <class NextLayer>
class frame_guard {
public:
    using executor_type = typename NextLayer::executor_type;
    using next_layer_type = NextLayer;

    template <class... Args>
    explicit frame_guard(std::size_t max_frame_bytes, Args&&... args)
        : next_(std::forward<Args>(args)...), max_frame_(max_frame_bytes)
    {
    }

    executor_type get_executor() noexcept { return next_.get_executor(); }
    NextLayer& next_layer() noexcept { return next_; }
    NextLayer const& next_layer() const noexcept { return next_; }

    /// True once a frame larger than the limit has started arriving.
    [[nodiscard]] bool oversized() const noexcept { return oversized_; }

    template <class MutableBufferSequence, class ReadHandler>
    auto async_read_some(MutableBufferSequence const& buffers, ReadHandler&& handler)
    {
        return net::async_initiate<ReadHandler, void(beast::error_code, std::size_t)>(
            [this](auto completion, MutableBufferSequence const& bufs) {
                auto executor = net::get_associated_executor(completion, next_.get_executor());
                next_.async_read_some(
                    bufs, net::bind_executor(executor, [this, bufs, completion = std::move(completion)](
                                                           beast::error_code ec, std::size_t n) mutable {
                        inspect(bufs, n);
                        std::move(completion)(ec, n);
                    }));
            },
            handler, buffers);
    }

    template <class ConstBufferSequence, class WriteHandler>
    auto async_write_some(ConstBufferSequence const& buffers, WriteHandler&& handler)
    {
        return next_.async_write_some(buffers, std::forward<WriteHandler>(handler));
    }

private:
    template <class MutableBufferSequence>
    void inspect(MutableBufferSequence const& buffers, std::size_t n)
    {
        for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers) && n > 0;
             ++it) {
            net::const_buffer const b = *it;
            auto const take = std::min(n, b.size());
            feed(static_cast<std::uint8_t const*>(b.data()), take);
            n -= take;
        }
    }

    // Walks the RFC 6455 framing: 2 header bytes, extended length, mask, payload.
    void feed(std::uint8_t const* p, std::size_t n)
    {
        while (n > 0) {
            if (payload_left_ > 0) {
                auto const skip = static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, n));
                payload_left_ -= skip;
                p += skip;
                n -= skip;
                continue;
            }
            header_[header_len_++] = *p++;
            --n;
            if (header_len_ == 2) {
                auto const len7 = header_[1] & 0x7FU;
                header_need_ = 2 +
                               (len7 == 126   ? 2
                                : len7 == 127 ? 8
                                              : 0) +
                               ((header_[1] & 0x80U) != 0 ? 4 : 0);
            }
            if (header_len_ >= 2 && header_len_ == header_need_) {
                std::uint64_t length = header_[1] & 0x7FU;
                if (length == 126) {
                    length = (std::uint64_t{header_[2]} << 8U) | header_[3];
                } else if (length == 127) {
                    length = 0;
                    for (std::size_t i = 2; i < 10; ++i) {
                        length = (length << 8U) | header_[i];
                    }
                }
                if (length > max_frame_) {
                    oversized_ = true;
                }
                payload_left_ = length;
                header_len_ = 0;
                header_need_ = 2;
            }
        }
    }

    NextLayer next_;
    std::size_t max_frame_;
    bool oversized_ = false;
    std::array<std::uint8_t, 14> header_{};
    std::size_t header_len_ = 0;
    std::size_t header_need_ = 2;
    std::uint64_t payload_left_ = 0;
};

/// Beast's teardown customization points, forwarded to the next layer.
template <class NextLayer>
void teardown(beast::role_type role, frame_guard<NextLayer>& stream, beast::error_code& ec)
{
    using websocket::teardown;
    teardown(role, stream.next_layer(), ec);
}

template <class NextLayer, class TeardownHandler>
void async_teardown(beast::role_type role, frame_guard<NextLayer>& stream, TeardownHandler&& handler)
{
    using websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
}

} // namespace stratus::gateway
