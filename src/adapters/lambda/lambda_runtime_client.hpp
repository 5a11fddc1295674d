#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/aws/http_client.hpp"
#include "core/result.hpp"

namespace stratus::lambda {

/// One invocation as the Runtime API hands it out (GET .../invocation/next).
struct invocation {
    std::string request_id;
    std::string payload;
    /// Epoch milliseconds after which Lambda stops the function (0 = unknown).
    std::int64_t deadline_ms = 0;
    std::string function_arn;
    std::string trace_id;
    /// Lambda-Runtime-Invocation-Id, echoed on the response/error post when set.
    std::string invocation_id;
};

/// The Lambda Runtime API (version 2018-06-01) over an http_client whose
/// endpoint is `http://${AWS_LAMBDA_RUNTIME_API}` and whose request timeout is
/// zero: `next` long-polls and may wait for hours while the sandbox is frozen.
/// See ../shared/reference/aws-semantics.md §3.
///
/// Errors: transport failures -> errc::unavailable; a non-2xx answer ->
/// errc::unavailable with the status and the Runtime API's errorType (413
/// RequestEntityTooLarge -> errc::too_large); a `next` answer without a
/// request id -> errc::internal.
class lambda_runtime_client {
public:
    /// Largest payload the Runtime API accepts (RIE: 6 MiB + 100 B).
    static constexpr std::size_t max_payload_bytes = 6 * 1024 * 1024 + 100;

    /// `http` must outlive the client.
    explicit lambda_runtime_client(aws::http_client& http);

    /// Waits for the next invocation.
    [[nodiscard]] result<invocation> next();

    /// POST .../invocation/{id}/response with the handler's result.
    [[nodiscard]] result<void> respond(invocation const& inv, std::string_view payload,
                                       std::string_view content_type = "application/json");

    /// POST .../invocation/{id}/error: a function error. `error_type` is a
    /// `Category.Reason` such as "Runtime.HandlerFailed".
    [[nodiscard]] result<void> report_error(invocation const& inv, std::string_view error_type,
                                            std::string_view message);

    /// POST .../runtime/init/error: the runtime could not start; the caller exits next.
    [[nodiscard]] result<void> report_init_error(std::string_view error_type, std::string_view message);

    /// The error document the Runtime API expects:
    /// {"errorMessage":"...","errorType":"...","stackTrace":[]}.
    [[nodiscard]] static std::string error_body(std::string_view error_type, std::string_view message);

private:
    result<void> post(std::string target, std::string body, std::string_view content_type,
                      std::string_view error_type, std::string_view invocation_id);

    aws::http_client& http_;
};

} // namespace stratus::lambda
