#include "adapters/apigw/apigw_connection_pusher.hpp"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>

#include "adapters/aws/sigv4_canonical.hpp"

namespace stratus {

apigw_connection_pusher::apigw_connection_pusher(aws::aws_credentials credentials, std::string region,
                                                 apigw_pusher_options options)
    : signer_(std::move(credentials), std::move(region), "execute-api"), options_(std::move(options))
{
}

apigw_connection_pusher::~apigw_connection_pusher() = default;

std::string apigw_connection_pusher::encode_path_segment(std::string_view segment)
{
    return aws::sigv4_canonical::uri_encode(segment, false);
}

result<aws::http_client*> apigw_connection_pusher::client_for(std::string const& endpoint_url,
                                                              aws::endpoint& parsed)
{
    std::lock_guard lock(mutex_);
    auto it = clients_.find(endpoint_url);
    if (it == clients_.end()) {
        auto target = aws::endpoint::parse(endpoint_url);
        if (!target) {
            return fail(errc::invalid_request, "bad @connections endpoint '" + endpoint_url + "'");
        }
        auto client = aws::beast_http_client::create(*target, options_.http);
        if (!client) {
            return tl::unexpected(client.error());
        }
        it = clients_.emplace(endpoint_url, std::make_pair(*target, std::move(*client))).first;
    }
    parsed = it->second.first;
    return it->second.second.get();
}

result<aws::http_response> apigw_connection_pusher::call(push_target const& target, std::string method,
                                                         std::string body)
{
    auto const& url = target.endpoint.empty() ? options_.default_endpoint : target.endpoint;
    aws::endpoint parsed;
    auto client = client_for(url, parsed);
    if (!client) {
        return tl::unexpected(client.error());
    }
    aws::http_request request;
    request.method = std::move(method);
    request.target = parsed.base_path + "/@connections/" + encode_path_segment(target.connection_id);
    request.body = std::move(body);
    if (!request.body.empty()) {
        request.set_header("Content-Type", "application/json");
    }
    signer_.sign(request, parsed.host_header(), std::chrono::system_clock::now());
    return (*client)->send(request);
}

std::vector<push_status> apigw_connection_pusher::push(std::span<push_target const> targets,
                                                       std::string_view payload)
{
    std::vector<push_status> statuses(targets.size(), push_status::failed);
    auto post_one = [&](std::size_t i) {
        auto response = call(targets[i], "POST", std::string(payload));
        if (!response) {
            statuses[i] = push_status::failed;
        } else if (response->status == 410) {
            statuses[i] = push_status::gone;
        } else if (response->status >= 200 && response->status < 300) {
            statuses[i] = push_status::sent;
        } else {
            statuses[i] = push_status::failed;
        }
    };
    auto const workers = static_cast<std::size_t>(std::clamp(options_.concurrency, 1, 256));
    if (targets.size() <= 1 || workers == 1) {
        for (std::size_t i = 0; i < targets.size(); ++i) {
            post_one(i);
        }
        return statuses;
    }
    // A bounded number of requests in flight; each worker takes the next target.
    std::atomic<std::size_t> next{0};
    auto drain = [&] {
        for (auto i = next++; i < targets.size(); i = next++) {
            post_one(i);
        }
    };
    std::vector<std::jthread> threads;
    try {
        for (std::size_t w = 1; w < std::min(workers, targets.size()); ++w) {
            threads.emplace_back(drain);
        }
    } catch (std::system_error const&) {
        // No more threads to be had: the ones started and this one finish the work.
    }
    drain();
    threads.clear(); // joins
    return statuses;
}

result<void> apigw_connection_pusher::disconnect(push_target const& target)
{
    auto response = call(target, "DELETE", "");
    if (!response) {
        return tl::unexpected(response.error());
    }
    if (response->status == 410) {
        return fail(errc::gone, "connection is gone");
    }
    if (response->status < 200 || response->status >= 300) {
        return fail(errc::unavailable, "DeleteConnection answered " + std::to_string(response->status));
    }
    return {};
}

result<std::string> apigw_connection_pusher::connection_info(push_target const& target)
{
    auto response = call(target, "GET", "");
    if (!response) {
        return tl::unexpected(response.error());
    }
    if (response->status == 410) {
        return fail(errc::gone, "connection is gone");
    }
    if (response->status != 200) {
        return fail(errc::unavailable, "GetConnection answered " + std::to_string(response->status));
    }
    return std::move(response->body);
}

} // namespace stratus
