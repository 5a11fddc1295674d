#include "lambda/invocation_metrics.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/memory/memory_store.hpp"
#include "fakes/recording_pusher.hpp"
#include "lambda/counting_pusher.hpp"
#include "lambda/counting_store.hpp"

namespace stratus::lambda {
namespace {

TEST(InvocationMetrics, OneLineIsBothTheLogAndAnEmbeddedMetricFormatDocument)
{
    invocation_metrics metrics;
    metrics.messages_stored = 1;
    metrics.deliveries = 9;
    metrics.gone_connections = 1;
    invocation_record record;
    record.request_id = "r-1";
    record.route = "sendMessage";
    record.connection_id = "abc=";
    record.outcome = "ok";
    record.status_code = 200;
    record.duration_ms = 3.14159;
    record.timestamp_ms = 1700000000000;

    auto const line = emf_log_line(record, metrics);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto doc = nlohmann::json::parse(line);
    auto const& directive = doc["_aws"]["CloudWatchMetrics"][0];
    EXPECT_EQ(doc["_aws"]["Timestamp"], 1700000000000);
    EXPECT_EQ(directive["Namespace"], "Stratus");
    EXPECT_EQ(directive["Dimensions"], nlohmann::json::parse(R"([["Route"]])"));
    // Every declared metric and dimension is a top-level member (EMF's rule).
    for (auto const& metric : directive["Metrics"]) {
        EXPECT_TRUE(doc.contains(metric["Name"].get<std::string>())) << metric;
    }
    EXPECT_EQ(doc["Route"], "sendMessage");
    EXPECT_EQ(doc["MessagesStored"], 1);
    EXPECT_EQ(doc["Deliveries"], 9);
    EXPECT_EQ(doc["GoneConnections"], 1);
    EXPECT_EQ(doc["Errors"], 0);
    EXPECT_DOUBLE_EQ(doc["Duration"].get<double>(), 3.141);
    EXPECT_EQ(doc["connectionId"], "abc=");
    EXPECT_EQ(doc["requestId"], "r-1");
    EXPECT_EQ(doc["outcome"], "ok");
    EXPECT_EQ(doc["level"], "info");
}

TEST(InvocationMetrics, FailuresCountAsErrorsAndCarryTheirReason)
{
    invocation_metrics metrics;
    metrics.store_errors = 2;
    invocation_record record;
    record.outcome = "error";
    record.error = "store down \xff";
    auto doc = nlohmann::json::parse(emf_log_line(record, metrics));
    EXPECT_EQ(doc["Errors"], 3);
    EXPECT_EQ(doc["Route"], "unknown");
    EXPECT_EQ(doc["level"], "error");
    EXPECT_TRUE(doc["error"].get<std::string>().starts_with("store down"));
}

TEST(CountingDecorators, CountStoredMessagesOnceAndEveryPushOutcome)
{
    invocation_metrics metrics;
    memory_store memory;
    counting_store store(memory, metrics);
    new_message message;
    message.room = "general";
    message.from = identity{"u1", "Ann"};
    message.text = "hi";
    message.client_msg_id = "c-1";
    message.ts_ms = 1;
    message.id = "m-1";
    message.dedupe_expires_at_s = 4102444800;
    ASSERT_TRUE(store.append_message(message));
    ASSERT_TRUE(store.append_message(message)); // a retry: a duplicate, not stored again
    EXPECT_EQ(metrics.messages_stored, 1);
    EXPECT_FALSE(store.last_seq("nowhere")); // not_found is an answer, not a store error
    EXPECT_EQ(metrics.store_errors, 0);

    testing::recording_pusher inner;
    inner.mark_gone("b");
    counting_pusher pusher(inner, metrics);
    std::vector<push_target> targets = {{"a", ""}, {"b", ""}, {"c", ""}};
    (void)pusher.push(targets, "{}");
    EXPECT_EQ(metrics.deliveries, 2);
    EXPECT_EQ(metrics.gone_connections, 1);
    metrics.reset();
    EXPECT_EQ(metrics.deliveries, 0);
    EXPECT_EQ(metrics.messages_stored, 0);
}

} // namespace
} // namespace stratus::lambda
