#include "gateway/lambda_runtime_emulator.hpp"

#include <signal.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <future>
#include <set>
#include <vector>

namespace stratus::gateway {
namespace {

using namespace std::chrono_literals;

lambda_options fake(std::vector<std::pair<std::string, std::string>> env = {})
{
    lambda_options options;
    options.bootstrap = STRATUS_FAKE_RUNTIME;
    options.function_name = "chat-test";
    options.region = "eu-west-1";
    options.max_instances = 2;
    options.timeout = 5s;
    options.environment = std::move(env);
    return options;
}

std::unique_ptr<lambda_runtime_emulator> start_or_die(lambda_options options)
{
    auto started = lambda_runtime_emulator::start(std::move(options));
    if (!started) {
        ADD_FAILURE() << started.error().detail;
        return nullptr;
    }
    return std::move(*started);
}

TEST(LambdaRuntimeEmulator, PassesTheEventBytesThroughUnchanged)
{
    auto lambda = start_or_die(fake());
    ASSERT_TRUE(lambda);
    std::string const event =
        "{\"requestContext\":{\"routeKey\":\"$default\"},\"body\":\"caf\xc3\xa9 \\u0000\"}";
    auto out = lambda->invoke(event);
    ASSERT_TRUE(out) << out.error().detail;
    EXPECT_EQ(*out, event);
    EXPECT_EQ(lambda->stats().invocations, 1);
    EXPECT_GT(lambda->stats().last_init_us, 0); // exec -> first next was measured
}

TEST(LambdaRuntimeEmulator, GivesTheFunctionALambdaEnvironmentAndNothingElse)
{
    ::setenv("STRATUS_TEST_GATEWAY_ONLY", "leak", 1);
    auto lambda = start_or_die(fake({{"STRATUS_AUTH", "dev"}, {"AWS_REGION", "ap-south-2"}}));
    ASSERT_TRUE(lambda);
    auto env = [&](std::string const& name) { return lambda->invoke("env:" + name).value_or("<failed>"); };
    EXPECT_TRUE(env("AWS_LAMBDA_RUNTIME_API").starts_with("127.0.0.1:"));
    EXPECT_EQ(env("AWS_LAMBDA_FUNCTION_NAME"), "chat-test");
    EXPECT_EQ(env("AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
    EXPECT_EQ(env("_HANDLER"), "bootstrap");
    EXPECT_EQ(env("STRATUS_AUTH"), "dev");
    EXPECT_EQ(env("AWS_REGION"), "ap-south-2"); // the function's variables win
    EXPECT_EQ(env("AWS_DEFAULT_REGION"), "eu-west-1");
    EXPECT_NE(env("AWS_ACCESS_KEY_ID"), "<unset>");
    EXPECT_EQ(env("STRATUS_TEST_GATEWAY_ONLY"), "<unset>");
    EXPECT_EQ(env("LAMBDA_TASK_ROOT"), std::filesystem::path(STRATUS_FAKE_RUNTIME).parent_path().string());
    ::unsetenv("STRATUS_TEST_GATEWAY_ONLY");
}

TEST(LambdaRuntimeEmulator, AFunctionErrorFailsTheInvocationWithItsType)
{
    auto lambda = start_or_die(fake());
    ASSERT_TRUE(lambda);
    auto out = lambda->invoke("fail");
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().detail.find("Runtime.HandlerFailed"), std::string::npos) << out.error().detail;
    EXPECT_NE(out.error().detail.find("asked to fail"), std::string::npos);
    EXPECT_EQ(lambda->invoke("after").value_or(""), "after");
}

TEST(LambdaRuntimeEmulator, AnOversizeResponseIsRefusedWith413AndBecomesAFunctionError)
{
    auto lambda = start_or_die(fake());
    ASSERT_TRUE(lambda);
    auto out = lambda->invoke("big");
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().detail.find("Function.ResponseSizeTooLarge"), std::string::npos)
        << out.error().detail;
    EXPECT_EQ(lambda->invoke("still here").value_or(""), "still here");
}

TEST(LambdaRuntimeEmulator, ACrashFailsItsInvocationAndANewInstanceTakesOver)
{
    auto lambda = start_or_die(fake());
    ASSERT_TRUE(lambda);
    auto const before = lambda->invoke("pid").value_or("");
    auto crashed = lambda->invoke("crash");
    ASSERT_FALSE(crashed);
    EXPECT_NE(crashed.error().detail.find("Runtime.ExitError"), std::string::npos) << crashed.error().detail;
    auto const after = lambda->invoke("pid");
    ASSERT_TRUE(after) << after.error().detail;
    EXPECT_NE(*after, before);
    EXPECT_GE(lambda->stats().instances_started, 2);
}

TEST(LambdaRuntimeEmulator, AnInvocationPastTheTimeoutIsFailedAndItsInstanceKilled)
{
    auto options = fake();
    options.timeout = 300ms;
    auto lambda = start_or_die(options);
    ASSERT_TRUE(lambda);
    auto const slow_pid = std::stoi(lambda->invoke("pid").value_or("0"));
    auto out = lambda->invoke("sleep:3000");
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().detail.find("Task timed out"), std::string::npos) << out.error().detail;
    EXPECT_EQ(lambda->stats().timeouts, 1);
    EXPECT_EQ(lambda->invoke("next").value_or(""), "next");
    // The timed-out instance is gone (killed and reaped).
    for (int i = 0; i < 100 && ::kill(slow_pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_NE(::kill(slow_pid, 0), 0);
}

TEST(LambdaRuntimeEmulator, InstancesScaleWithConcurrentInvocationsUpToTheLimit)
{
    auto options = fake();
    options.max_instances = 3;
    auto lambda = start_or_die(options);
    ASSERT_TRUE(lambda);
    std::vector<std::future<result<std::string>>> calls;
    for (int i = 0; i < 9; ++i) {
        calls.push_back(std::async(std::launch::async, [&] {
            auto slept = lambda->invoke("sleep:200");
            if (!slept) {
                return slept;
            }
            return lambda->invoke("pid");
        }));
    }
    std::set<std::string> pids;
    for (auto& call : calls) {
        auto out = call.get();
        ASSERT_TRUE(out) << out.error().detail;
        pids.insert(*out);
    }
    EXPECT_GE(pids.size(), 2U);
    EXPECT_LE(lambda->stats().instances_started, 3);
}

TEST(LambdaRuntimeEmulator, AnInitErrorIsReportedAtStart)
{
    auto started = lambda_runtime_emulator::start(fake({{"FAKE_RUNTIME_INIT", "error"}}));
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().detail.find("Runtime.ConfigurationError: FAKE_SETTING: not set"),
              std::string::npos)
        << started.error().detail;
}

TEST(LambdaRuntimeEmulator, ARuntimeThatExitsAtOnceIsReportedAtStart)
{
    auto started = lambda_runtime_emulator::start(fake({{"FAKE_RUNTIME_INIT", "exit"}}));
    ASSERT_FALSE(started);
    EXPECT_NE(started.error().detail.find("exited with status 3"), std::string::npos)
        << started.error().detail;
}

TEST(LambdaRuntimeEmulator, AMissingOrNonExecutableBootstrapIsRefused)
{
    auto options = fake();
    options.bootstrap = "/nonexistent/bootstrap";
    auto missing = lambda_runtime_emulator::start(options);
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::invalid_request);

    options.bootstrap = std::filesystem::path(STRATUS_FAKE_RUNTIME).parent_path() / "CTestTestfile.cmake";
    auto not_executable = lambda_runtime_emulator::start(options);
    ASSERT_FALSE(not_executable);
    EXPECT_EQ(not_executable.error().code, errc::invalid_request);
}

TEST(LambdaRuntimeEmulator, StopEndsEveryInstance)
{
    auto lambda = start_or_die(fake());
    ASSERT_TRUE(lambda);
    auto const pid = std::stoi(lambda->invoke("pid").value_or("0"));
    ASSERT_GT(pid, 0);
    lambda->stop();
    EXPECT_NE(::kill(pid, 0), 0);
    auto out = lambda->invoke("late");
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, errc::unavailable);
}

} // namespace
} // namespace stratus::gateway
