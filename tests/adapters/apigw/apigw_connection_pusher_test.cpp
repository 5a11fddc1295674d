#include "adapters/apigw/apigw_connection_pusher.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "support/child_process.hpp"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace stratus {
namespace {

using json = nlohmann::json;

/// tests/adapters/aws/http_test_server.py on a free port (a stand-in for @connections).
class stand_in {
public:
    stand_in()
    {
        if (auto port = process_.emplace(std::vector<std::string>{"python3", STRATUS_HTTP_TEST_SERVER})
                            .wait_for_line("PORT ")) {
            port_ = std::stoi(*port);
        }
    }
    [[nodiscard]] std::string url(std::string const& stage) const
    {
        return "http://127.0.0.1:" + std::to_string(port_) + "/" + stage;
    }
    [[nodiscard]] int port() const { return port_; }

private:
    std::optional<testing::child_process> process_;
    int port_ = 0;
};

class ApigwConnectionPusher : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (std::system("command -v python3 >/dev/null 2>&1") != 0) {
            GTEST_SKIP() << "python3 is not on PATH; these tests need it for their stand-in server";
        }
        ASSERT_NE(server.port(), 0);
    }
    stand_in server;
    aws::aws_credentials credentials{"AKIDEXAMPLE", "secret", "session-token"};
};

TEST_F(ApigwConnectionPusher, MapsStatusesPerTargetAcrossEndpoints)
{
    apigw_pusher_options options;
    options.default_endpoint = server.url("prod");
    options.concurrency = 4;
    apigw_connection_pusher pusher(credentials, "eu-west-1", options);
    std::vector<push_target> targets;
    for (int i = 0; i < 40; ++i) {
        auto const kind = i % 3 == 0 ? "gone" : i % 3 == 1 ? "live" : "fail";
        // Half use the default endpoint, half name one (another stage on the same server).
        targets.push_back(
            push_target{std::string(kind) + std::to_string(i) + "=", i % 2 == 0 ? "" : server.url("other")});
    }
    auto const statuses = pusher.push(targets, R"({"type":"message"})");
    ASSERT_EQ(statuses.size(), targets.size());
    for (std::size_t i = 0; i < targets.size(); ++i) {
        auto const expected = i % 3 == 0   ? push_status::gone
                              : i % 3 == 1 ? push_status::sent
                                           : push_status::failed;
        EXPECT_EQ(statuses[i], expected) << targets[i].connection_id;
    }
}

TEST_F(ApigwConnectionPusher, SignsForExecuteApiAndEncodesTheId)
{
    apigw_pusher_options options;
    options.default_endpoint = server.url("prod");
    apigw_connection_pusher pusher(credentials, "eu-west-1", options);
    auto info = pusher.connection_info(push_target{"R1kmxc2VNjMCFIA=", ""});
    ASSERT_TRUE(info) << info.error().detail;
    auto const echo = json::parse(*info);
    EXPECT_EQ(echo["method"], "GET");
    EXPECT_EQ(echo["path"], "/prod/@connections/R1kmxc2VNjMCFIA%3D");
    auto const auth = echo["headers"]["authorization"].get<std::string>();
    EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0U) << auth;
    EXPECT_NE(auth.find("/eu-west-1/execute-api/aws4_request"), std::string::npos) << auth;
    EXPECT_EQ(echo["headers"]["x-amz-security-token"], "session-token");
    EXPECT_TRUE(echo["headers"].contains("x-amz-date"));
}

TEST_F(ApigwConnectionPusher, DisconnectReportsGone)
{
    apigw_pusher_options options;
    options.default_endpoint = server.url("prod");
    apigw_connection_pusher pusher(credentials, "eu-west-1", options);
    EXPECT_TRUE(pusher.disconnect(push_target{"live1=", ""}));
    auto gone = pusher.disconnect(push_target{"gone1=", ""});
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, errc::gone);
}

TEST_F(ApigwConnectionPusher, UnreachableOrInvalidEndpointsFailWithoutThrowing)
{
    apigw_pusher_options options;
    options.default_endpoint = "not a url";
    apigw_connection_pusher pusher(credentials, "eu-west-1", options);
    std::vector<push_target> targets{{"a=", ""}, {"b=", "http://127.0.0.1:1/prod"}};
    auto const statuses = pusher.push(targets, "{}");
    EXPECT_EQ(statuses, (std::vector<push_status>{push_status::failed, push_status::failed}));
}

TEST(ApigwConnectionPusherEncoding, EncodesEverythingButUnreservedCharacters)
{
    EXPECT_EQ(apigw_connection_pusher::encode_path_segment("abc-_.~XYZ09"), "abc-_.~XYZ09");
    EXPECT_EQ(apigw_connection_pusher::encode_path_segment("a=/+ b"), "a%3D%2F%2B%20b");
}

} // namespace
} // namespace stratus
