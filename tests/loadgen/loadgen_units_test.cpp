// Unit tests of the load generator's Beast-free parts: the payload every
// receiver decodes, the frame scanner, the delivery tracker, the percentiles
// and the loopback-only URL.

#include "loadgen/payload_codec.hpp"

#include <gtest/gtest.h>

#include "loadgen/delivery_tracker.hpp"
#include "loadgen/latency_summary.hpp"
#include "loadgen/stratus_frame.hpp"
#include "loadgen/target_url.hpp"

namespace stratus::loadgen {
namespace {

TEST(PayloadCodec, RoundTripsAtTheRequestedSize)
{
    payload_codec const codec(0xdeadbeef, 160);
    std::string text;
    codec.encode(text, 7, 12345, 987654321012345);
    EXPECT_EQ(text.size(), 160U);
    EXPECT_EQ(text.substr(0, 9), "deadbeef:");
    auto const decoded = codec.decode(text);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->sender, 7U);
    EXPECT_EQ(decoded->index, 12345U);
    EXPECT_EQ(decoded->sent_ns, 987654321012345);
}

TEST(PayloadCodec, RejectsOtherRunsAndDamagedTexts)
{
    payload_codec const codec(1, 100);
    std::string text;
    codec.encode(text, 1, 2, 3);
    EXPECT_FALSE(payload_codec(2, 100).decode(text)); // another nonce
    EXPECT_FALSE(payload_codec(1, 101).decode(text)); // another size
    auto damaged = text;
    damaged.back() = 'x';
    EXPECT_FALSE(codec.decode(damaged));
    damaged = text;
    damaged[10] = 'z';
    EXPECT_FALSE(codec.decode(damaged));
    EXPECT_FALSE(codec.decode(""));
}

TEST(PayloadCodec, NeverGoesBelowTheMinimumSize)
{
    payload_codec const codec(1, 10);
    EXPECT_EQ(codec.size(), payload_codec::min_size);
}

TEST(StratusFrame, ReadsAMessagePush)
{
    auto const frame = stratus_frame::scan(
        R"({"clientMsgId":"a-1-2","from":{"name":"lg","userId":"u1"},"id":"x","room":"r","seq":3,)"
        R"("text":"abc:1:2:3:...","ts":1,"type":"message"})");
    EXPECT_EQ(frame.type, "message");
    EXPECT_EQ(frame.text, "abc:1:2:3:...");
    EXPECT_EQ(frame.client_msg_id, "a-1-2");
}

TEST(StratusFrame, ReadsAcksErrorsAndGatewayErrors)
{
    auto const ack =
        stratus_frame::scan(R"({"clientMsgId":"m-0-1","id":"x","room":"r","seq":1,"ts":1,"type":"ack"})");
    EXPECT_EQ(ack.type, "ack");
    EXPECT_EQ(ack.client_msg_id, "m-0-1");

    auto const error =
        stratus_frame::scan(R"({"action":"sendMessage","clientMsgId":"c","code":"not_member","message":"no",)"
                            R"("requestId":"q","type":"error"})");
    EXPECT_EQ(error.type, "error");
    EXPECT_EQ(error.code, "not_member");
    EXPECT_EQ(error.message, "no");

    auto const gateway =
        stratus_frame::scan(R"({"message": "Forbidden", "connectionId":"c", "requestId":"r"})");
    EXPECT_TRUE(gateway.type.empty());
    EXPECT_EQ(gateway.message, "Forbidden");
}

TEST(StratusFrame, IgnoresKeyNamesInsideStringValues)
{
    // A name that looks like a key: its quotes are escaped, so it is not taken.
    auto const frame = stratus_frame::scan(R"({"from":{"name":"\"type\":\"ack\""},"type":"presence"})");
    EXPECT_EQ(frame.type, "presence");
    EXPECT_EQ(stratus_frame::string_field(R"({"a":"x\"y","b":"z"})", "a"), R"(x\"y)");
    EXPECT_TRUE(stratus_frame::string_field(R"({"seq":3})", "seq").empty());
}

TEST(DeliveryTracker, CountsFirstDeliveriesAndDuplicatesPerReceiver)
{
    delivery_tracker tracker(4, 130); // more than two 64-bit words per message
    EXPECT_TRUE(tracker.record(0, 0, 10, 100));
    EXPECT_TRUE(tracker.record(0, 129, 30, 300));
    EXPECT_TRUE(tracker.record(3, 64, 20, 200));
    EXPECT_FALSE(tracker.record(0, 129, 99, 400)); // same receiver again
    EXPECT_EQ(tracker.deliveries(), 3U);
    EXPECT_EQ(tracker.duplicates(), 1U);
    EXPECT_EQ(tracker.last_delivery_ns(), 300);
    EXPECT_EQ(tracker.receivers_per_message()[0], 2U);
    EXPECT_EQ(tracker.receivers_per_message()[1], 0U);
    EXPECT_EQ(tracker.max_latency_per_message()[0], 30);
    EXPECT_EQ(tracker.max_latency_per_message()[1], -1);
    EXPECT_EQ(tracker.max_latency_per_message()[3], 20);
}

TEST(LatencySummary, UsesNearestRank)
{
    std::vector<std::int64_t> samples;
    for (std::int64_t i = 100; i >= 1; --i) {
        samples.push_back(i);
    }
    auto const s = latency_summary::of(samples);
    EXPECT_EQ(s.count, 100U);
    EXPECT_EQ(s.p50, 50);
    EXPECT_EQ(s.p90, 90);
    EXPECT_EQ(s.p99, 99);
    EXPECT_EQ(s.max, 100);

    std::vector<std::int64_t> empty;
    EXPECT_EQ(latency_summary::of(empty).count, 0U);
    std::vector<std::int64_t> one{7};
    EXPECT_EQ(latency_summary::of(one).p99, 7);
}

TEST(TargetUrl, AcceptsLoopbackOnly)
{
    auto const url = target_url::parse("ws://127.0.0.1:8080/local");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "127.0.0.1");
    EXPECT_EQ(url->port, 8080);
    EXPECT_EQ(url->path, "/local");
    EXPECT_EQ(target_url::parse("ws://localhost:1")->path, "/");
    EXPECT_EQ(target_url::parse("ws://[::1]:9/x")->host, "::1");
    EXPECT_FALSE(target_url::parse("ws://10.0.0.1:8080/local"));
    EXPECT_FALSE(target_url::parse("wss://127.0.0.1:8080/local"));
    EXPECT_FALSE(target_url::parse("ws://127.0.0.1/local"));
    EXPECT_FALSE(target_url::parse("ws://127.0.0.1:0/"));
    EXPECT_FALSE(target_url::parse("ws://127.0.0.1:70000/"));
}

} // namespace
} // namespace stratus::loadgen
