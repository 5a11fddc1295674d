#include "adapters/lambda/lambda_runtime_client.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

namespace stratus::lambda {

namespace {

constexpr std::string_view api = "/2018-06-01/runtime";

std::string header_or_empty(aws::http_response const& response, std::string_view name)
{
    auto value = response.header(name);
    return value ? std::string(*value) : std::string();
}

/// Request ids are UUIDs on AWS; anything that could break the request target
/// or smuggle a path ("..", found by fuzz/fuzz_lambda_runtime) is refused.
bool valid_request_id(std::string_view id)
{
    if (id.empty() || id.size() > 128) {
        return false;
    }
    for (char ch : id) {
        bool const ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        ch == '-' || ch == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string describe_failure(aws::http_response const& response)
{
    std::string detail = "Runtime API answered " + std::to_string(response.status);
    auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (parsed.is_object()) {
        auto type = parsed.find("errorType");
        if (type != parsed.end() && type->is_string()) {
            detail += " " + type->get<std::string>();
        }
        auto message = parsed.find("errorMessage");
        if (message != parsed.end() && message->is_string()) {
            detail += ": " + message->get<std::string>();
        }
    }
    return detail;
}

} // namespace

lambda_runtime_client::lambda_runtime_client(aws::http_client& http) : http_(http) {}

result<invocation> lambda_runtime_client::next()
{
    aws::http_request request;
    request.method = "GET";
    request.target = std::string(api) + "/invocation/next";
    request.set_header("User-Agent", "stratus-bootstrap/0.1");
    auto response = http_.send(request);
    if (!response) {
        return tl::unexpected(response.error());
    }
    if (response->status < 200 || response->status > 299) {
        return fail(errc::unavailable, describe_failure(*response));
    }
    invocation inv;
    inv.request_id = header_or_empty(*response, "Lambda-Runtime-Aws-Request-Id");
    if (!valid_request_id(inv.request_id)) {
        return fail(errc::internal,
                    "Runtime API sent an invocation without a valid Lambda-Runtime-Aws-Request-Id");
    }
    auto const deadline = header_or_empty(*response, "Lambda-Runtime-Deadline-Ms");
    if (!deadline.empty()) {
        std::int64_t value = 0;
        auto [end, ec] = std::from_chars(deadline.data(), deadline.data() + deadline.size(), value);
        if (ec == std::errc() && end == deadline.data() + deadline.size() && value > 0) {
            inv.deadline_ms = value;
        }
    }
    inv.function_arn = header_or_empty(*response, "Lambda-Runtime-Invoked-Function-Arn");
    inv.trace_id = header_or_empty(*response, "Lambda-Runtime-Trace-Id");
    inv.invocation_id = header_or_empty(*response, "Lambda-Runtime-Invocation-Id");
    inv.payload = std::move(response->body);
    return inv;
}

result<void> lambda_runtime_client::respond(invocation const& inv, std::string_view payload,
                                            std::string_view content_type)
{
    if (payload.size() > max_payload_bytes) {
        return fail(errc::too_large, "response of " + std::to_string(payload.size()) +
                                         " bytes exceeds the Runtime API's limit");
    }
    return post(std::string(api) + "/invocation/" + inv.request_id + "/response", std::string(payload),
                content_type, {}, inv.invocation_id);
}

result<void> lambda_runtime_client::report_error(invocation const& inv, std::string_view error_type,
                                                 std::string_view message)
{
    return post(std::string(api) + "/invocation/" + inv.request_id + "/error",
                error_body(error_type, message), "application/json", error_type, inv.invocation_id);
}

result<void> lambda_runtime_client::report_init_error(std::string_view error_type, std::string_view message)
{
    return post(std::string(api) + "/init/error", error_body(error_type, message), "application/json",
                error_type, {});
}

std::string lambda_runtime_client::error_body(std::string_view error_type, std::string_view message)
{
    nlohmann::json body = {{"errorMessage", std::string(message)},
                           {"errorType", std::string(error_type)},
                           {"stackTrace", nlohmann::json::array()}};
    // Replace invalid UTF-8 (an exception text may carry anything) instead of throwing.
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

result<void> lambda_runtime_client::post(std::string target, std::string body, std::string_view content_type,
                                         std::string_view error_type, std::string_view invocation_id)
{
    aws::http_request request;
    request.method = "POST";
    request.target = std::move(target);
    request.set_header("User-Agent", "stratus-bootstrap/0.1");
    request.set_header("Content-Type", std::string(content_type));
    if (!error_type.empty()) {
        request.set_header("Lambda-Runtime-Function-Error-Type", std::string(error_type));
    }
    if (!invocation_id.empty()) {
        request.set_header("Lambda-Runtime-Invocation-Id", std::string(invocation_id));
    }
    request.body = std::move(body);
    auto response = http_.send(request);
    if (!response) {
        return tl::unexpected(response.error());
    }
    if (response->status == 413) {
        return fail(errc::too_large, describe_failure(*response));
    }
    if (response->status < 200 || response->status > 299) {
        return fail(errc::unavailable, describe_failure(*response));
    }
    return {};
}

} // namespace stratus::lambda
