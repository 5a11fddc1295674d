#include "gateway/connection_limiter.hpp"

namespace stratus::gateway {

std::unique_ptr<connection_limiter::ticket> connection_limiter::try_acquire(std::string const& ip)
{
    std::lock_guard lock(mutex_);
    auto& from_ip = by_ip_[ip];
    if ((per_ip_ != 0 && from_ip >= per_ip_) || (total_ != 0 && open_ >= total_)) {
        if (from_ip == 0) {
            by_ip_.erase(ip);
        }
        ++refused_;
        return nullptr;
    }
    ++from_ip;
    ++open_;
    return std::make_unique<ticket>(*this, ip);
}

void connection_limiter::release(std::string const& ip)
{
    std::lock_guard lock(mutex_);
    auto it = by_ip_.find(ip);
    if (it != by_ip_.end() && --it->second == 0) {
        by_ip_.erase(it);
    }
    --open_;
}

std::size_t connection_limiter::open_from(std::string const& ip) const
{
    std::lock_guard lock(mutex_);
    auto it = by_ip_.find(ip);
    return it == by_ip_.end() ? 0 : it->second;
}

std::size_t connection_limiter::open_total() const
{
    std::lock_guard lock(mutex_);
    return open_;
}

std::size_t connection_limiter::refused() const
{
    std::lock_guard lock(mutex_);
    return refused_;
}

} // namespace stratus::gateway
