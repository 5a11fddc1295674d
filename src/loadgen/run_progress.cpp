#include "loadgen/run_progress.hpp"

namespace stratus::loadgen {

void run_progress::fail(std::string const& why)
{
    {
        std::lock_guard lock(mutex_);
        if (first_failure_.empty()) {
            first_failure_ = why;
        }
    }
    failed.fetch_add(1);
}

void run_progress::error_frame(std::string const& what)
{
    {
        std::lock_guard lock(mutex_);
        if (first_error_frame_.empty()) {
            first_error_frame_ = what;
        }
    }
    error_frames.fetch_add(1);
}

std::string run_progress::first_failure() const
{
    std::lock_guard lock(mutex_);
    return first_failure_;
}

std::string run_progress::first_error_frame() const
{
    std::lock_guard lock(mutex_);
    return first_error_frame_;
}

} // namespace stratus::loadgen
