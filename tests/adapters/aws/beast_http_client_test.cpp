#include "adapters/aws/beast_http_client.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "support/child_process.hpp"

namespace stratus::aws {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

/// Runs tests/adapters/aws/http_test_server.py (python3) on a free loopback port.
class test_server {
public:
    explicit test_server(std::vector<std::string> args = {})
    {
        std::vector<std::string> argv{"python3", STRATUS_HTTP_TEST_SERVER};
        argv.insert(argv.end(), args.begin(), args.end());
        if (auto port = process_.emplace(std::move(argv)).wait_for_line("PORT ")) {
            port_ = static_cast<std::uint16_t>(std::stoi(*port));
        }
    }

    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    std::optional<stratus::testing::child_process> process_;
    std::uint16_t port_ = 0;
};

bool have(char const* tool)
{
    return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

std::unique_ptr<beast_http_client> client_for(std::string const& url, http_client_options options = {})
{
    auto parsed = endpoint::parse(url);
    EXPECT_TRUE(parsed.has_value()) << url;
    auto client = beast_http_client::create(*parsed, options);
    EXPECT_TRUE(client.has_value()) << (client ? "" : client.error().detail);
    return client ? std::move(*client) : nullptr;
}

http_request get(std::string target)
{
    http_request request;
    request.target = std::move(target);
    return request;
}

class BeastHttpClient : public ::testing::Test {
protected:
    void SetUp() override
    {
        if (!have("python3")) {
            GTEST_SKIP() << "python3 is not on PATH; the HTTP client tests need it for their test server";
        }
    }
};

TEST_F(BeastHttpClient, SendsRequestsAndReadsResponses)
{
    test_server server;
    ASSERT_NE(server.port(), 0);
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()));
    http_request request;
    request.method = "POST";
    request.target = "/echo?x=1";
    request.headers = {{"X-Amz-Target", "DynamoDB_20120810.GetItem"}};
    request.body = R"({"TableName":"t"})";
    auto response = client->send(request);
    ASSERT_TRUE(response) << response.error().detail;
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->header("content-type"), "application/json");
    auto echo = json::parse(response->body);
    EXPECT_EQ(echo["method"], "POST");
    EXPECT_EQ(echo["path"], "/echo?x=1");
    EXPECT_EQ(echo["body"], R"({"TableName":"t"})");
    EXPECT_EQ(echo["headers"]["x-amz-target"], "DynamoDB_20120810.GetItem");
    EXPECT_EQ(echo["headers"]["host"], "127.0.0.1:" + std::to_string(server.port()));
    auto status = client->send(get("/status/410"));
    ASSERT_TRUE(status);
    EXPECT_EQ(status->status, 410) << "any status is a response, not a transport error";
}

TEST_F(BeastHttpClient, ReusesKeepAliveConnections)
{
    test_server server;
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()));
    std::set<int> ports;
    for (int i = 0; i < 5; ++i) {
        auto response = client->send(get("/echo"));
        ASSERT_TRUE(response) << response.error().detail;
        ports.insert(json::parse(response->body)["client_port"].get<int>());
    }
    EXPECT_EQ(client->connections_opened(), 1U);
    EXPECT_EQ(ports.size(), 1U);
}

TEST_F(BeastHttpClient, OpensANewConnectionWhenTheServerCloses)
{
    test_server server;
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()));
    ASSERT_TRUE(client->send(get("/close")));
    auto again = client->send(get("/echo"));
    ASSERT_TRUE(again) << again.error().detail;
    EXPECT_EQ(client->connections_opened(), 2U);
}

TEST_F(BeastHttpClient, TimesOutASlowServer)
{
    test_server server;
    http_client_options options;
    options.request_timeout = std::chrono::milliseconds(300);
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()), options);
    auto response = client->send(get("/slow"));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, errc::unavailable);
    EXPECT_NE(response.error().detail.find("timed out"), std::string::npos) << response.error().detail;
}

TEST_F(BeastHttpClient, ReportsRefusedConnections)
{
    int port = 0;
    {
        test_server server; // a port that was just free
        port = server.port();
    }
    auto client = client_for("http://127.0.0.1:" + std::to_string(port));
    auto response = client->send(get("/echo"));
    ASSERT_FALSE(response);
    EXPECT_EQ(response.error().code, errc::unavailable);
}

TEST_F(BeastHttpClient, ServesConcurrentCallers)
{
    test_server server;
    auto client = client_for("http://127.0.0.1:" + std::to_string(server.port()));
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto response = client->send(get("/echo"));
                if (response && response->status == 200) {
                    ++ok;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(ok.load(), 80);
    EXPECT_LE(client->connections_opened(), 8U);
}

/// A throw-away CA and a server certificate for `san`, made with the openssl CLI.
struct test_pki {
    fs::path dir;
    bool ok = false;
    explicit test_pki(std::string const& san)
    {
        dir = fs::temp_directory_path() /
              ("stratus-pki-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
        fs::create_directories(dir);
        auto const d = dir.string();
        std::string const script =
            "cd '" + d +
            "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
            "-subj /CN=stratus-test-ca >/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes -keyout "
            "server.key "
            "-out server.csr -subj /CN=server >/dev/null 2>&1 && printf 'subjectAltName=" +
            san +
            "\\n' > ext.cnf && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
            "-out server.pem -days 2 -extfile ext.cnf >/dev/null 2>&1";
        ok = std::system(script.c_str()) == 0;
    }
    ~test_pki() { fs::remove_all(dir); }
};

TEST_F(BeastHttpClient, VerifiesServerCertificatesAndHostNames)
{
    if (!have("openssl")) {
        GTEST_SKIP() << "the openssl CLI is needed to make test certificates";
    }
    test_pki pki("DNS:localhost");
    ASSERT_TRUE(pki.ok);
    test_server server(
        {"--cert", (pki.dir / "server.pem").string(), "--key", (pki.dir / "server.key").string()});
    ASSERT_NE(server.port(), 0);
    auto const url = "https://localhost:" + std::to_string(server.port());

    http_client_options trusted;
    trusted.ca_file = (pki.dir / "ca.pem").string();
    auto good = client_for(url, trusted)->send(get("/echo"));
    ASSERT_TRUE(good) << good.error().detail;
    EXPECT_EQ(good->status, 200);

    // The system store does not know the test CA.
    auto untrusted = client_for(url)->send(get("/echo"));
    ASSERT_FALSE(untrusted);
    EXPECT_NE(untrusted.error().detail.find("TLS handshake"), std::string::npos) << untrusted.error().detail;

    // Trusted CA, but the certificate does not name the host we connect to.
    auto wrong_host =
        client_for("https://127.0.0.1:" + std::to_string(server.port()), trusted)->send(get("/echo"));
    ASSERT_FALSE(wrong_host);
    EXPECT_EQ(wrong_host.error().code, errc::unavailable);
}

TEST(Endpoint, ParsesUrls)
{
    auto https = endpoint::parse("https://abc.execute-api.eu-west-1.amazonaws.com/prod/");
    ASSERT_TRUE(https);
    EXPECT_TRUE(https->tls);
    EXPECT_EQ(https->port, 443);
    EXPECT_EQ(https->base_path, "/prod");
    EXPECT_EQ(https->host_header(), "abc.execute-api.eu-west-1.amazonaws.com");
    auto local = endpoint::parse("http://127.0.0.1:8080");
    ASSERT_TRUE(local);
    EXPECT_FALSE(local->tls);
    EXPECT_EQ(local->host_header(), "127.0.0.1:8080");
    EXPECT_EQ(local->base_path, "");
    EXPECT_FALSE(endpoint::parse("ftp://x"));
    EXPECT_FALSE(endpoint::parse("http://"));
    EXPECT_FALSE(endpoint::parse("http://h:99999"));
    EXPECT_FALSE(endpoint::parse("http://user@h/"));
    EXPECT_FALSE(endpoint::parse("http://h/a?b"));
}

} // namespace
} // namespace stratus::aws
