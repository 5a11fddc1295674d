// End-to-end tests of the local stack with a real C++ WebSocket client
// (Boost.Beast) against the real `stratus dev` process. The larger suite,
// written against a stack URL, is tests/integration/node/.

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/apigw/apigw_connection_pusher.hpp"
#include "stack_process.hpp"

namespace stratus::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;

/// A blocking WebSocket client for tests.
class ws_client {
public:
    ws_client(unsigned short port, std::string const& token) : ws_(ioc_)
    {
        tcp::resolver resolver(ioc_);
        net::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
        ws_.handshake("127.0.0.1:" + std::to_string(port), "/local?token=" + token);
    }

    void send(json const& frame) { ws_.write(net::buffer(frame.dump())); }

    json read()
    {
        beast::flat_buffer buffer;
        ws_.read(buffer);
        return json::parse(beast::buffers_to_string(buffer.data()));
    }

    /// Reads until a frame of `type` arrives; frames of other types are kept.
    json read_type(std::string const& type)
    {
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
            if ((*it)["type"] == type) {
                auto frame = *it;
                pending_.erase(it);
                return frame;
            }
        }
        for (;;) {
            auto frame = read();
            if (frame["type"] == type) {
                return frame;
            }
            pending_.push_back(frame);
        }
    }

    json request(json const& frame, std::string const& reply_type)
    {
        send(frame);
        return read_type(reply_type);
    }

    void close() { ws_.close(websocket::close_code::normal); }

    /// Reads until the server closes; returns the close code.
    int read_until_closed()
    {
        beast::flat_buffer buffer;
        beast::error_code ec;
        for (;;) {
            ws_.read(buffer, ec);
            if (ec) {
                return ec == websocket::error::closed ? static_cast<int>(ws_.reason().code) : -1;
            }
            buffer.consume(buffer.size());
        }
    }

private:
    net::io_context ioc_;
    websocket::stream<tcp::socket> ws_;
    std::vector<json> pending_;
};

json http_post(unsigned short port, std::string const& target, std::string const& body, int& status)
{
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    status = static_cast<int>(res.result_int());
    return json::parse(res.body(), nullptr, false);
}

std::string dev_token(unsigned short port, std::string const& name)
{
    int status = 0;
    auto body = http_post(port, "/auth/dev-token", json{{"name", name}}.dump(), status);
    EXPECT_EQ(status, 200);
    return body["token"].get<std::string>();
}

class GatewayIntegration : public ::testing::Test {
protected:
    static void SetUpTestSuite() { stack = std::make_unique<stack_process>(); }
    static void TearDownTestSuite() { stack.reset(); }
    static std::unique_ptr<stack_process> stack;
};

std::unique_ptr<stack_process> GatewayIntegration::stack;

TEST_F(GatewayIntegration, TwoUsersChatWithAcksAndConsecutiveSeq)
{
    ws_client alice(stack->port(), dev_token(stack->port(), "alice"));
    ws_client bob(stack->port(), dev_token(stack->port(), "bob"));
    EXPECT_EQ(alice.request({{"action", "joinRoom"}, {"room", "cpp-two"}}, "joined")["lastSeq"], 0);
    auto joined = bob.request({{"action", "joinRoom"}, {"room", "cpp-two"}}, "joined");
    EXPECT_EQ(joined["members"].size(), 2U);
    EXPECT_EQ(alice.read_type("presence")["user"]["name"], "bob");

    auto ack = alice.request(
        {{"action", "sendMessage"}, {"room", "cpp-two"}, {"text", "hi bob"}, {"clientMsgId", "a1"}}, "ack");
    EXPECT_EQ(ack["seq"], 1);
    auto got = bob.read_type("message");
    EXPECT_EQ(got["text"], "hi bob");
    EXPECT_EQ(got["from"]["name"], "alice");
    EXPECT_EQ(got["seq"], 1);
    EXPECT_EQ(alice.read_type("message")["id"], ack["id"]) << "the sender's devices get the message too";

    auto reply = bob.request(
        {{"action", "sendMessage"}, {"room", "cpp-two"}, {"text", "hi alice"}, {"clientMsgId", "b1"}}, "ack");
    EXPECT_EQ(reply["seq"], 2);
    EXPECT_EQ(alice.read_type("message")["text"], "hi alice");

    auto history = alice.request({{"action", "getHistory"}, {"room", "cpp-two"}}, "history");
    ASSERT_EQ(history["messages"].size(), 2U);
    EXPECT_EQ(history["messages"][0]["text"], "hi bob");
    alice.close();
    bob.close();
}

TEST_F(GatewayIntegration, RetriedClientMsgIdIsStoredAndDeliveredOnce)
{
    ws_client alice(stack->port(), dev_token(stack->port(), "alice"));
    ws_client bob(stack->port(), dev_token(stack->port(), "bob"));
    alice.request({{"action", "joinRoom"}, {"room", "cpp-retry"}}, "joined");
    bob.request({{"action", "joinRoom"}, {"room", "cpp-retry"}}, "joined");
    json const frame{
        {"action", "sendMessage"}, {"room", "cpp-retry"}, {"text", "once"}, {"clientMsgId", "same-id"}};
    auto first = alice.request(frame, "ack");
    auto second = alice.request(frame, "ack");
    EXPECT_EQ(first["seq"], second["seq"]);
    // A marker message proves nothing else was delivered in between.
    alice.request(
        {{"action", "sendMessage"}, {"room", "cpp-retry"}, {"text", "marker"}, {"clientMsgId", "m"}}, "ack");
    EXPECT_EQ(bob.read_type("message")["text"], "once");
    EXPECT_EQ(bob.read_type("message")["text"], "marker");
}

TEST_F(GatewayIntegration, EightConcurrentSendersGiveOneGapFreeOrderAtEveryClient)
{
    constexpr int senders = 8;
    constexpr int each = 25;
    std::vector<std::unique_ptr<ws_client>> clients;
    for (int i = 0; i < senders; ++i) {
        clients.push_back(
            std::make_unique<ws_client>(stack->port(), dev_token(stack->port(), "s" + std::to_string(i))));
        clients.back()->request({{"action", "joinRoom"}, {"room", "cpp-busy"}}, "joined");
    }
    ws_client observer(stack->port(), dev_token(stack->port(), "observer"));
    observer.request({{"action", "joinRoom"}, {"room", "cpp-busy"}}, "joined");

    std::vector<std::thread> threads;
    for (int i = 0; i < senders; ++i) {
        threads.emplace_back([&, i] {
            for (int k = 0; k < each; ++k) {
                auto const id = "c" + std::to_string(i) + "-" + std::to_string(k);
                clients[static_cast<std::size_t>(i)]->send(
                    {{"action", "sendMessage"}, {"room", "cpp-busy"}, {"text", id}, {"clientMsgId", id}});
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    auto collect = [](ws_client& client) {
        std::vector<std::string> ids;
        for (int n = 0; n < senders * each; ++n) {
            auto m = client.read_type("message");
            EXPECT_EQ(m["seq"], n + 1) << "delivered in seq order, no gap";
            ids.push_back(m["id"]);
        }
        return ids;
    };
    auto const seen_by_observer = collect(observer);
    EXPECT_EQ(collect(*clients[0]), seen_by_observer);
    EXPECT_EQ(collect(*clients[7]), seen_by_observer);
}

TEST_F(GatewayIntegration, HandshakeWithoutAValidTokenIsRefusedWith401)
{
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    for (std::string const target : {"/local", "/local?token=", "/local?token=not.a.jwt"}) {
        websocket::stream<tcp::socket> ws(ioc);
        net::connect(ws.next_layer(), resolver.resolve("127.0.0.1", std::to_string(stack->port())));
        websocket::response_type res;
        beast::error_code ec;
        ws.handshake(res, "127.0.0.1", target, ec);
        EXPECT_EQ(ec, websocket::error::upgrade_declined) << target;
        EXPECT_EQ(res.result_int(), 401U) << target;
    }
}

/// The @connections pusher (SigV4, keep-alive HTTP) against the gateway's own
/// management API, the way a Lambda handler reaches API Gateway.
TEST(GatewayConnectionsApi, ThePusherPostsGetsAndDeletesThroughTheGateway)
{
    // A route table without $default, so the Forbidden frame tells the client its connection id.
    auto const routes =
        std::filesystem::temp_directory_path() / ("stratus-routes-" + std::to_string(::getpid()));
    {
        std::ofstream(routes) << R"({"routeSelectionExpression":"$request.body.action",
            "routes":[{"routeKey":"$connect"},{"routeKey":"$disconnect"},{"routeKey":"ping"}]})";
    }
    stack_process stack({"--routes", routes.string()});
    ws_client client(stack.port(), dev_token(stack.port(), "pushed"));
    client.send({{"action", "who-am-i"}});
    auto const forbidden = client.read();
    ASSERT_EQ(forbidden["message"], "Forbidden");
    auto const id = forbidden["connectionId"].get<std::string>();

    apigw_pusher_options options;
    options.default_endpoint = "http://127.0.0.1:" + std::to_string(stack.port()) + "/local";
    apigw_connection_pusher pusher(aws::aws_credentials{"local", "local", ""}, "us-east-1", options);
    std::vector<push_target> const targets{{id, ""}, {"AAAAAAAAAAAAAAA=", ""}};
    auto statuses = pusher.push(targets, R"({"type":"pushed","n":1})");
    EXPECT_EQ(statuses, (std::vector<push_status>{push_status::sent, push_status::gone}));
    EXPECT_EQ(client.read()["type"], "pushed");

    auto info = pusher.connection_info(push_target{id, ""});
    ASSERT_TRUE(info) << info.error().detail;
    EXPECT_TRUE(json::parse(*info).contains("connectedAt"));

    ASSERT_TRUE(pusher.disconnect(push_target{id, ""}));
    EXPECT_EQ(client.read_until_closed(), 1001);
    EXPECT_EQ(pusher.push(targets, "{}")[0], push_status::gone);
    std::filesystem::remove(routes);
}

} // namespace
} // namespace stratus::testing
