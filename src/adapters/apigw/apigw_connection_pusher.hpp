#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "adapters/aws/aws_credentials.hpp"
#include "adapters/aws/beast_http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "core/ports/pusher.hpp"

namespace stratus {

/// Settings of the @connections pusher.
struct apigw_pusher_options {
    /// Used for targets without an endpoint ("https://{api}.execute-api.{region}.amazonaws.com/{stage}").
    std::string default_endpoint;
    /// Requests in flight at once during one fan-out.
    int concurrency = 16;
    aws::http_client_options http;
};

/// The pusher port over API Gateway's management API: PostToConnection
/// (POST {endpoint}/@connections/{id}, SigV4 for execute-api). 410 GoneException
/// -> push_status::gone. Keep-alive connections per endpoint, and a bounded
/// number of requests in flight so a room of 1,000 is not 1,000 round trips in a row.
class apigw_connection_pusher final : public pusher {
public:
    apigw_connection_pusher(aws::aws_credentials credentials, std::string region,
                            apigw_pusher_options options);
    ~apigw_connection_pusher() override;

    // pusher
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override;

    /// DeleteConnection. Unknown id -> errc::gone.
    [[nodiscard]] result<void> disconnect(push_target const& target);

    /// GetConnection's raw JSON body. Unknown id -> errc::gone.
    [[nodiscard]] result<std::string> connection_info(push_target const& target);

    /// "abc=" -> "abc%3D": every byte but unreserved characters percent-encoded.
    static std::string encode_path_segment(std::string_view segment);

private:
    result<aws::http_response> call(push_target const& target, std::string method, std::string body);
    result<aws::http_client*> client_for(std::string const& endpoint_url, aws::endpoint& parsed);

    aws::sigv4_signer signer_;
    apigw_pusher_options options_;

    // This mutex synchronizes clients_.
    std::mutex mutex_;
    std::map<std::string, std::pair<aws::endpoint, std::unique_ptr<aws::beast_http_client>>> clients_;
};

} // namespace stratus
