// Lambda Runtime API answers -> lambda_runtime_client (next, respond,
// report_error), over a scripted http_client. Input: up to three responses
// separated by NUL, each "STATUS\nName: value\n...\n\nbody" (a first line that
// is not a number is a transport failure). Oracles: an invocation has a
// request id that is safe in a request target, and the follow-up posts go to
// exactly /2018-06-01/runtime/invocation/{id}/response|error; error bodies are
// JSON carrying the message; failures have the documented error codes.

#include <charconv>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/lambda/lambda_runtime_client.hpp"
#include "fakes/scripted_http_client.hpp"
#include "fuzz_support.hpp"

namespace {

using stratus::fuzz::expect;

stratus::result<stratus::aws::http_response> scripted(std::string_view text)
{
    auto const line_end = text.find('\n');
    auto const status_text = text.substr(0, line_end);
    stratus::aws::http_response response;
    auto const [end, ec] =
        std::from_chars(status_text.data(), status_text.data() + status_text.size(), response.status);
    if (ec != std::errc() || end != status_text.data() + status_text.size()) {
        return stratus::fail(stratus::errc::unavailable, "connection refused");
    }
    text = line_end == std::string_view::npos ? std::string_view{} : text.substr(line_end + 1);
    while (!text.empty()) {
        auto const end_of_line = text.find('\n');
        auto const line = text.substr(0, end_of_line);
        text = end_of_line == std::string_view::npos ? std::string_view{} : text.substr(end_of_line + 1);
        if (line.empty()) {
            break;
        }
        auto const colon = line.find(':');
        auto value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    response.body = std::string(text);
    return response;
}

bool safe_target_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_' || ch == '.' || ch == '/';
}

void check_failure(stratus::error const& e)
{
    expect(e.code == stratus::errc::unavailable || e.code == stratus::errc::internal ||
               e.code == stratus::errc::too_large,
           "Runtime API failures are unavailable, internal or too_large");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const parts = stratus::fuzz::split_parts(stratus::fuzz::as_text(data, size));
    stratus::testing::scripted_http_client http;
    for (std::size_t i = 0; i < parts.size() && i < 3; ++i) {
        http.push(scripted(parts[i]));
    }
    stratus::lambda::lambda_runtime_client client(http);

    auto const invocation = client.next();
    if (!invocation) {
        check_failure(invocation.error());
        return 0;
    }
    auto const& id = invocation->request_id;
    expect(!id.empty() && id.size() <= 128, "request id is 1-128 chars");
    for (char ch : id) {
        expect(safe_target_char(ch) && ch != '/', "request id is safe in a request target");
    }
    expect(id != "." && id != "..", "request id is not a dot segment");
    expect(invocation->deadline_ms >= 0, "deadline is not negative");

    auto const base = "/2018-06-01/runtime/invocation/" + id;
    if (auto const sent = client.respond(*invocation, R"({"statusCode":200})"); !sent) {
        check_failure(sent.error());
    }
    auto const message = parts.back();
    if (auto const sent = client.report_error(*invocation, "Runtime.Fuzz", message); !sent) {
        check_failure(sent.error());
    }
    auto const requests = http.requests();
    expect(requests.size() == 3, "next, response and error were sent");
    expect(requests[1].method == "POST" && requests[1].target == base + "/response", "response target");
    expect(requests[2].method == "POST" && requests[2].target == base + "/error", "error target");
    for (auto const& request : requests) {
        for (char ch : request.target) {
            expect(safe_target_char(ch), "request targets hold only safe characters");
        }
    }
    if (!invocation->invocation_id.empty()) {
        expect(requests[1].header("Lambda-Runtime-Invocation-Id") == invocation->invocation_id,
               "the invocation id is echoed");
    }
    auto const body = nlohmann::json::parse(requests[2].body, nullptr, false);
    expect(body.is_object() && body.contains("errorType") && body.at("errorType") == "Runtime.Fuzz" &&
               body.contains("errorMessage") && body.at("errorMessage").is_string(),
           "the error body is the Runtime API's JSON");
    return 0;
}
