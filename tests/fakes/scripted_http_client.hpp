#pragma once

#include <deque>
#include <mutex>
#include <vector>

#include "adapters/aws/http_client.hpp"

namespace stratus::testing {

/// An http_client that records requests and answers from a script, in order.
/// An exhausted script answers errc::unavailable ("script exhausted").
class scripted_http_client final : public aws::http_client {
public:
    void push(result<aws::http_response> response)
    {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(response));
    }

    void push_status(int status, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {})
    {
        aws::http_response response;
        response.status = status;
        response.body = std::move(body);
        response.headers = std::move(headers);
        push(std::move(response));
    }

    // http_client
    result<aws::http_response> send(aws::http_request const& request) override
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (script_.empty()) {
            return fail(errc::unavailable, "script exhausted");
        }
        auto next = std::move(script_.front());
        script_.pop_front();
        return next;
    }

    [[nodiscard]] std::vector<aws::http_request> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }

private:
    mutable std::mutex mutex_;
    std::deque<result<aws::http_response>> script_;
    std::vector<aws::http_request> requests_;
};

} // namespace stratus::testing
