#include "adapters/lambda/lambda_runtime_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <vector>

#include "adapters/lambda/lambda_runtime_loop.hpp"
#include "fakes/scripted_http_client.hpp"

namespace stratus::lambda {
namespace {

using headers = std::vector<std::pair<std::string, std::string>>;

class silent_logger final : public logger {
public:
    void warn(std::string_view what, std::string_view detail) override
    {
        lines.push_back(std::string(what) + ": " + std::string(detail));
    }
    std::vector<std::string> lines;
};

headers invocation_headers(std::string id)
{
    return {{"Lambda-Runtime-Aws-Request-Id", std::move(id)},
            {"Lambda-Runtime-Deadline-Ms", "1700000003000"},
            {"Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f"},
            {"Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}};
}

TEST(LambdaRuntimeClient, NextReadsTheInvocationFromHeadersAndBody)
{
    testing::scripted_http_client http;
    auto h = invocation_headers("8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    h.emplace_back("lambda-runtime-invocation-id", "inv-1"); // header names are case-insensitive
    http.push_status(200, R"({"requestContext":{}})", h);
    lambda_runtime_client client(http);

    auto inv = client.next();
    ASSERT_TRUE(inv) << inv.error().detail;
    EXPECT_EQ(inv->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
    EXPECT_EQ(inv->deadline_ms, 1700000003000);
    EXPECT_EQ(inv->function_arn, "arn:aws:lambda:us-east-1:123456789012:function:f");
    EXPECT_EQ(inv->trace_id, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
    EXPECT_EQ(inv->invocation_id, "inv-1");
    EXPECT_EQ(inv->payload, R"({"requestContext":{}})");
    auto const sent = http.requests();
    ASSERT_EQ(sent.size(), 1U);
    EXPECT_EQ(sent[0].method, "GET");
    EXPECT_EQ(sent[0].target, "/2018-06-01/runtime/invocation/next");
}

TEST(LambdaRuntimeClient, NextRefusesAMissingOrUnsafeRequestId)
{
    for (std::string id : std::vector<std::string>{"", "../../init/error", "..", ".", "a.b", "a b", "id?x=1",
                                                   std::string(129, 'a')}) {
        testing::scripted_http_client http;
        http.push_status(200, "{}", id.empty() ? headers{} : headers{{"Lambda-Runtime-Aws-Request-Id", id}});
        lambda_runtime_client client(http);
        auto inv = client.next();
        ASSERT_FALSE(inv) << "accepted request id '" << id << "'";
        EXPECT_EQ(inv.error().code, errc::internal);
    }
}

TEST(LambdaRuntimeClient, NextIgnoresAMalformedDeadline)
{
    for (std::string deadline : std::vector<std::string>{"soon", "-5", "12ab", "99999999999999999999999"}) {
        testing::scripted_http_client http;
        http.push_status(200, "{}",
                         {{"Lambda-Runtime-Aws-Request-Id", "r1"}, {"Lambda-Runtime-Deadline-Ms", deadline}});
        lambda_runtime_client client(http);
        auto inv = client.next();
        ASSERT_TRUE(inv);
        EXPECT_EQ(inv->deadline_ms, 0) << deadline;
    }
}

TEST(LambdaRuntimeClient, FailuresCarryTheStatusAndTheRuntimeApiErrorType)
{
    testing::scripted_http_client http;
    http.push_status(
        403, R"({"errorMessage":"State transition is not allowed","errorType":"InvalidStateTransition"})");
    http.push(fail(errc::unavailable, "connection refused"));
    lambda_runtime_client client(http);

    auto first = client.next();
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code, errc::unavailable);
    EXPECT_NE(first.error().detail.find("403"), std::string::npos);
    EXPECT_NE(first.error().detail.find("InvalidStateTransition"), std::string::npos);
    auto second = client.next();
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().detail, "connection refused");
}

TEST(LambdaRuntimeClient, RespondPostsThePayloadAndEchoesTheInvocationId)
{
    testing::scripted_http_client http;
    http.push_status(202, R"({"status":"OK"})");
    lambda_runtime_client client(http);
    invocation inv;
    inv.request_id = "abc-123";
    inv.invocation_id = "inv-9";

    ASSERT_TRUE(client.respond(inv, R"({"statusCode":200})"));
    auto const sent = http.requests().at(0);
    EXPECT_EQ(sent.method, "POST");
    EXPECT_EQ(sent.target, "/2018-06-01/runtime/invocation/abc-123/response");
    EXPECT_EQ(sent.body, R"({"statusCode":200})");
    EXPECT_EQ(sent.header("Content-Type").value_or(""), "application/json");
    EXPECT_EQ(sent.header("Lambda-Runtime-Invocation-Id").value_or(""), "inv-9");
    EXPECT_FALSE(sent.header("Lambda-Runtime-Function-Error-Type"));
}

TEST(LambdaRuntimeClient, ResponsesOverTheLimitAreRefusedLocallyAnd413IsTooLarge)
{
    testing::scripted_http_client http;
    http.push_status(
        413,
        R"({"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"})");
    lambda_runtime_client client(http);
    invocation inv;
    inv.request_id = "r";

    auto local = client.respond(inv, std::string(lambda_runtime_client::max_payload_bytes + 1, 'x'));
    ASSERT_FALSE(local);
    EXPECT_EQ(local.error().code, errc::too_large);
    EXPECT_TRUE(http.requests().empty());

    auto remote = client.respond(inv, "{}");
    ASSERT_FALSE(remote);
    EXPECT_EQ(remote.error().code, errc::too_large);
    EXPECT_NE(remote.error().detail.find("RequestEntityTooLarge"), std::string::npos);
}

TEST(LambdaRuntimeClient, ErrorsUseTheRuntimeApiDocumentAndHeader)
{
    testing::scripted_http_client http;
    http.push_status(202);
    http.push_status(202);
    lambda_runtime_client client(http);
    invocation inv;
    inv.request_id = "r-1";

    ASSERT_TRUE(client.report_error(inv, "Runtime.HandlerFailed", "boom \xff"));
    ASSERT_TRUE(client.report_init_error("Runtime.ConfigurationError", "AWS_REGION: not set"));
    auto const sent = http.requests();
    EXPECT_EQ(sent[0].target, "/2018-06-01/runtime/invocation/r-1/error");
    EXPECT_EQ(sent[0].header("Lambda-Runtime-Function-Error-Type").value_or(""), "Runtime.HandlerFailed");
    auto body = nlohmann::json::parse(sent[0].body);
    EXPECT_EQ(body["errorType"], "Runtime.HandlerFailed");
    EXPECT_TRUE(body["stackTrace"].is_array());
    EXPECT_EQ(body["errorMessage"].get<std::string>().substr(0, 5),
              "boom "); // invalid UTF-8 replaced, not thrown
    EXPECT_EQ(sent[1].target, "/2018-06-01/runtime/init/error");
    EXPECT_EQ(nlohmann::json::parse(sent[1].body)["errorMessage"], "AWS_REGION: not set");
}

// ------------------------------------------------------------------ the loop

TEST(LambdaRuntimeLoop, AnswersEachInvocationInTurn)
{
    testing::scripted_http_client http;
    http.push_status(200, "one", {{"Lambda-Runtime-Aws-Request-Id", "r1"}});
    http.push_status(202);
    http.push_status(200, "two", {{"Lambda-Runtime-Aws-Request-Id", "r2"}});
    http.push_status(202);
    lambda_runtime_client client(http);
    silent_logger log;
    runtime_loop_options options;
    options.max_invocations = 2;

    int const status = run_runtime_loop(
        client, [](invocation const& inv) -> result<std::string> { return "echo:" + inv.payload; }, log,
        options);

    EXPECT_EQ(status, 0);
    auto const sent = http.requests();
    ASSERT_EQ(sent.size(), 4U);
    EXPECT_EQ(sent[1].target, "/2018-06-01/runtime/invocation/r1/response");
    EXPECT_EQ(sent[1].body, "echo:one");
    EXPECT_EQ(sent[3].target, "/2018-06-01/runtime/invocation/r2/response");
    EXPECT_EQ(sent[3].body, "echo:two");
}

TEST(LambdaRuntimeLoop, HandlerFailuresAndExceptionsBecomeFunctionErrors)
{
    testing::scripted_http_client http;
    for (auto id : {"r1", "r2", "r3"}) {
        http.push_status(200, id, {{"Lambda-Runtime-Aws-Request-Id", id}});
        http.push_status(202);
    }
    lambda_runtime_client client(http);
    silent_logger log;
    runtime_loop_options options;
    options.max_invocations = 3;

    int const status = run_runtime_loop(
        client,
        [](invocation const& inv) -> result<std::string> {
            if (inv.payload == "r1") {
                return fail(errc::invalid_request, "malformed event");
            }
            if (inv.payload == "r2") {
                throw std::runtime_error("bug");
            }
            throw 42;
        },
        log, options);

    EXPECT_EQ(status, 0);
    auto const sent = http.requests();
    ASSERT_EQ(sent.size(), 6U);
    for (std::size_t i : {1U, 3U, 5U}) {
        EXPECT_TRUE(sent[i].target.ends_with("/error")) << sent[i].target;
        EXPECT_EQ(nlohmann::json::parse(sent[i].body)["errorType"], "Runtime.HandlerFailed");
    }
    EXPECT_EQ(nlohmann::json::parse(sent[1].body)["errorMessage"], "malformed event");
    EXPECT_NE(nlohmann::json::parse(sent[3].body)["errorMessage"].get<std::string>().find("bug"),
              std::string::npos);
}

TEST(LambdaRuntimeLoop, GivesUpAfterThreeConsecutiveFailedNextCalls)
{
    testing::scripted_http_client http;
    http.push(fail(errc::unavailable, "refused"));
    http.push_status(500, R"({"errorType":"Runtime.Unknown","errorMessage":"x"})");
    http.push_status(200, "ok", {{"Lambda-Runtime-Aws-Request-Id", "r1"}}); // resets the count
    http.push_status(202);
    http.push(fail(errc::unavailable, "refused"));
    http.push(fail(errc::unavailable, "refused"));
    http.push(fail(errc::unavailable, "refused"));
    lambda_runtime_client client(http);
    silent_logger log;
    runtime_loop_options options;
    options.retry_delay = std::chrono::milliseconds(1);

    int const status = run_runtime_loop(
        client, [](invocation const&) -> result<std::string> { return "{}"; }, log, options);

    EXPECT_EQ(status, 1);
    EXPECT_EQ(http.requests().size(), 7U);
}

TEST(LambdaRuntimeLoop, AFailedPostEndsTheRuntime)
{
    testing::scripted_http_client http;
    http.push_status(200, "x", {{"Lambda-Runtime-Aws-Request-Id", "r1"}});
    http.push_status(400, R"({"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"})");
    lambda_runtime_client client(http);
    silent_logger log;

    int const status = run_runtime_loop(
        client, [](invocation const&) -> result<std::string> { return "{}"; }, log);

    EXPECT_EQ(status, 1);
    EXPECT_EQ(http.requests().size(), 2U);
}

TEST(LambdaRuntimeLoop, ARefusedLargeResponseIsReportedAsAFunctionError)
{
    testing::scripted_http_client http;
    http.push_status(200, "x", {{"Lambda-Runtime-Aws-Request-Id", "r1"}});
    http.push_status(413, R"({"errorType":"RequestEntityTooLarge","errorMessage":"too big"})");
    http.push_status(202);
    lambda_runtime_client client(http);
    silent_logger log;
    runtime_loop_options options;
    options.max_invocations = 1;

    int const status = run_runtime_loop(
        client, [](invocation const&) -> result<std::string> { return "{}"; }, log, options);

    EXPECT_EQ(status, 0);
    auto const sent = http.requests();
    ASSERT_EQ(sent.size(), 3U);
    EXPECT_EQ(sent[2].target, "/2018-06-01/runtime/invocation/r1/error");
    EXPECT_EQ(nlohmann::json::parse(sent[2].body)["errorType"], "Function.ResponseSizeTooLarge");
}

} // namespace
} // namespace stratus::lambda
