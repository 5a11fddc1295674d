#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace stratus::gateway {

/// Caps open TCP connections per client IP and in total, so idle, half-open
/// or slow connections from one address cannot exhaust the gateway's
/// descriptors and memory. A connection holds a ticket from accept until its
/// socket is gone (HTTP or WebSocket). Thread-safe.
class connection_limiter {
public:
    /// Releases its slot when destroyed.
    class ticket {
    public:
        ticket(connection_limiter& owner, std::string ip) : owner_(&owner), ip_(std::move(ip)) {}
        ~ticket() { owner_->release(ip_); }
        ticket(ticket const&) = delete;
        ticket& operator=(ticket const&) = delete;

    private:
        connection_limiter* owner_;
        std::string ip_;
    };

    /// 0 means no limit.
    connection_limiter(std::size_t per_ip, std::size_t total) : per_ip_(per_ip), total_(total) {}

    /// A slot for a new connection from `ip`, or null when a cap is reached.
    [[nodiscard]] std::unique_ptr<ticket> try_acquire(std::string const& ip);

    [[nodiscard]] std::size_t open_from(std::string const& ip) const;
    [[nodiscard]] std::size_t open_total() const;
    /// Connections refused so far.
    [[nodiscard]] std::size_t refused() const;

private:
    void release(std::string const& ip);

    std::size_t per_ip_;
    std::size_t total_;
    // This mutex synchronizes everything below it.
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> by_ip_;
    std::size_t open_ = 0;
    std::size_t refused_ = 0;
};

} // namespace stratus::gateway
