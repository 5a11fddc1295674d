#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/crc.hpp>
#include <nlohmann/json.hpp>

#include "adapters/aws/http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "adapters/dynamodb/dynamodb_client.hpp"

namespace stratus::dynamodb::testing {

/// The decimal CRC-32/IEEE of a body, as DynamoDB sends it in x-amz-crc32.
inline std::string crc32_of(std::string const& body)
{
    boost::crc_32_type crc;
    crc.process_bytes(body.data(), body.size());
    return std::to_string(crc.checksum());
}

/// A response as DynamoDB sends it: JSON body with a correct x-amz-crc32.
inline aws::http_response json_response(int status, nlohmann::json const& body)
{
    aws::http_response response;
    response.status = status;
    response.body = body.dump();
    response.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                        {"x-amz-crc32", crc32_of(response.body)}};
    return response;
}

/// An error response: {"__type": type, "message": message}.
inline aws::http_response error_response(int status, std::string const& type,
                                         std::string const& message = "m")
{
    return json_response(status, nlohmann::json{{"__type", type}, {"message", message}});
}

/// A scripted http_client: answers requests from a queue (or a handler) and
/// records every request. Thread-safe.
class fake_dynamodb_http final : public aws::http_client {
public:
    using handler = std::function<result<aws::http_response>(aws::http_request const&)>;

    void push(aws::http_response response)
    {
        std::lock_guard lock(mutex_);
        script_.push_back(std::move(response));
    }
    void push_failure(std::string reason)
    {
        std::lock_guard lock(mutex_);
        script_.push_back(fail(errc::unavailable, std::move(reason)));
    }
    /// Answers every request once the script is empty.
    void set_handler(handler h)
    {
        std::lock_guard lock(mutex_);
        handler_ = std::move(h);
    }

    result<aws::http_response> send(aws::http_request const& request) override
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
        if (!script_.empty()) {
            auto next = std::move(script_.front());
            script_.pop_front();
            return next;
        }
        if (handler_) {
            return handler_(request);
        }
        return fail(errc::internal, "fake_dynamodb_http: no scripted response");
    }

    std::vector<aws::http_request> requests() const
    {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    /// The JSON body of request i.
    nlohmann::json body(std::size_t i) const { return nlohmann::json::parse(requests().at(i).body); }
    /// The operation of request i (after "DynamoDB_20120810.").
    std::string operation(std::size_t i) const
    {
        auto const request = requests().at(i); // a copy: header() returns a view into it
        auto const target = request.header("X-Amz-Target").value_or("");
        auto const dot = target.find('.');
        return std::string(dot == std::string_view::npos ? target : target.substr(dot + 1));
    }

private:
    mutable std::mutex mutex_;
    std::deque<result<aws::http_response>> script_;
    handler handler_;
    std::vector<aws::http_request> requests_;
};

/// A client over a fake transport with recorded, instant sleeps and a fixed random value.
struct fake_client_bundle {
    explicit fake_client_bundle(double random_value = 0.5, int max_attempts = 8)
        : signer(aws::aws_credentials{"AKIDEXAMPLE", "secret", ""}, "us-east-1", "dynamodb"),
          client(
              http, signer, *aws::endpoint::parse("http://127.0.0.1:8000"),
              client_options{
                  retry_policy{max_attempts, std::chrono::milliseconds(25), std::chrono::milliseconds(1000)},
                  [this](std::chrono::milliseconds d) {
                      std::lock_guard lock(sleeps_mutex);
                      sleeps.push_back(d);
                  },
                  [random_value] { return random_value; },
                  [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1700000000)); }})
    {
    }

    std::vector<std::chrono::milliseconds> recorded_sleeps()
    {
        std::lock_guard lock(sleeps_mutex);
        return sleeps;
    }

    fake_dynamodb_http http;
    aws::sigv4_signer signer;
    std::mutex sleeps_mutex;
    std::vector<std::chrono::milliseconds> sleeps;
    dynamodb_client client;
};

} // namespace stratus::dynamodb::testing
