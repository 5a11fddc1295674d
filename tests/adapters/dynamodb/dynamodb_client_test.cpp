#include "adapters/dynamodb/dynamodb_client.hpp"

#include <thread>
#include <tuple>

#include <gtest/gtest.h>

#include "adapters/dynamodb/attribute_value.hpp"
#include "adapters/dynamodb/fake_dynamodb_http.hpp"

namespace stratus::dynamodb {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using testing::crc32_of;
using testing::error_response;
using testing::fake_client_bundle;
using testing::json_response;

json get_request()
{
    return json{{"TableName", "T"},
                {"Key", {{"pk", attribute_value::s("a")}, {"sk", attribute_value::s("b")}}}};
}

TEST(DynamoDbClient, SendsASignedJson10Request)
{
    fake_client_bundle f;
    f.http.push(json_response(200, json{{"Item", {{"pk", attribute_value::s("a")}}}}));
    auto got = f.client.get_item(get_request());
    ASSERT_TRUE(got) << got.error().describe();
    EXPECT_EQ(attribute_value::get_s((*got)["Item"], "pk"), "a");

    auto const request = f.http.requests().at(0);
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/");
    EXPECT_EQ(request.header("Content-Type"), "application/x-amz-json-1.0");
    EXPECT_EQ(request.header("X-Amz-Target"), "DynamoDB_20120810.GetItem");
    EXPECT_EQ(request.header("Host"), "127.0.0.1:8000");
    EXPECT_EQ(request.header("X-Amz-Date"), "20231114T221320Z");
    auto const authorization = std::string(request.header("Authorization").value_or(""));
    EXPECT_EQ(authorization.rfind(
                  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/dynamodb/aws4_request", 0),
              0u)
        << authorization;
    auto const body = f.http.body(0);
    EXPECT_EQ(body["TableName"], "T");
    EXPECT_EQ(body["ReturnConsumedCapacity"], "TOTAL");
}

TEST(DynamoDbClient, TableManagementDoesNotAskForConsumedCapacity)
{
    fake_client_bundle f;
    f.http.push(json_response(200, json{{"Table", {{"TableStatus", "ACTIVE"}}}}));
    ASSERT_TRUE(f.client.describe_table("T"));
    EXPECT_EQ(f.http.operation(0), "DescribeTable");
    EXPECT_FALSE(f.http.body(0).contains("ReturnConsumedCapacity"));
}

TEST(DynamoDbClient, AttributeValuesRoundTrip)
{
    json item{{"t", attribute_value::s(std::string("a\0b", 3))},
              {"n", attribute_value::n(-42)},
              {"big", attribute_value::n(9223372036854775807)}};
    EXPECT_EQ(item["n"], (json{{"N", "-42"}}));
    EXPECT_EQ(attribute_value::get_s(item, "t"), std::string("a\0b", 3));
    EXPECT_EQ(attribute_value::get_n(item, "n"), -42);
    EXPECT_EQ(attribute_value::get_n(item, "big"), 9223372036854775807);
    EXPECT_FALSE(attribute_value::get_n(item, "t").has_value());
    EXPECT_FALSE(attribute_value::get_s(item, "n").has_value());
    EXPECT_FALSE(attribute_value::get_s(item, "missing").has_value());
    EXPECT_FALSE(attribute_value::get_n(json{{"x", {{"N", "1.5"}}}}, "x").has_value());
}

// --- error mapping ------------------------------------------------------------------

class DynamoDbClientErrors : public ::testing::TestWithParam<std::tuple<int, std::string, error_kind>> {};

TEST_P(DynamoDbClientErrors, MapsTypeToKind)
{
    auto const& [status, type, kind] = GetParam();
    auto const parsed = dynamodb_client::parse_error(error_response(status, type, "why"));
    EXPECT_EQ(parsed.kind, kind) << type << " -> " << to_string(parsed.kind);
    EXPECT_EQ(parsed.type, type.substr(type.find('#') == std::string::npos ? 0 : type.find('#') + 1));
    EXPECT_EQ(parsed.message, "why");
    EXPECT_EQ(parsed.status, status);
}

constexpr auto ns = "com.amazonaws.dynamodb.v20120810#";

INSTANTIATE_TEST_SUITE_P(
    DynamoDbClient, DynamoDbClientErrors,
    ::testing::Values(
        std::make_tuple(400, std::string(ns) + "ConditionalCheckFailedException",
                        error_kind::conditional_check_failed),
        std::make_tuple(400, std::string("ConditionalCheckFailedException"),
                        error_kind::conditional_check_failed),
        std::make_tuple(400, std::string(ns) + "TransactionCanceledException",
                        error_kind::transaction_canceled),
        std::make_tuple(400, std::string(ns) + "TransactionConflictException",
                        error_kind::transaction_conflict),
        std::make_tuple(400, std::string(ns) + "ProvisionedThroughputExceededException",
                        error_kind::throttled),
        std::make_tuple(400, std::string("ThrottlingException"), error_kind::throttled),
        std::make_tuple(400, std::string(ns) + "RequestLimitExceeded", error_kind::throttled),
        std::make_tuple(400, std::string(ns) + "TransactionInProgressException", error_kind::throttled),
        std::make_tuple(400, std::string(ns) + "LimitExceededException", error_kind::throttled),
        std::make_tuple(400, std::string("com.amazon.coral.validate#ValidationException"),
                        error_kind::validation),
        std::make_tuple(400, std::string("com.amazon.coral.service#SerializationException"),
                        error_kind::validation),
        std::make_tuple(400, std::string(ns) + "ResourceNotFoundException", error_kind::resource_not_found),
        std::make_tuple(400, std::string(ns) + "ResourceInUseException", error_kind::resource_in_use),
        std::make_tuple(400, std::string("com.amazon.coral.service#UnrecognizedClientException"),
                        error_kind::auth),
        std::make_tuple(400, std::string("com.amazon.coral.service#InvalidSignatureException"),
                        error_kind::auth),
        std::make_tuple(400, std::string("com.amazon.coral.service#AccessDeniedException"), error_kind::auth),
        std::make_tuple(400, std::string("com.amazon.coral.service#MissingAuthenticationTokenException"),
                        error_kind::auth),
        std::make_tuple(500, std::string("com.amazonaws.dynamodb.v20120810#InternalServerError"),
                        error_kind::server),
        std::make_tuple(503, std::string("ServiceUnavailable"), error_kind::server),
        std::make_tuple(400, std::string(ns) + "SomethingNew", error_kind::other)));

TEST(DynamoDbClient, ErrorTypeFromHeaderWhenBodyIsNotJson)
{
    aws::http_response response;
    response.status = 400;
    response.body = "<html>nope</html>";
    response.headers = {{"X-Amzn-ErrorType", "ThrottlingException:http://internal.amazon.com/"}};
    auto const parsed = dynamodb_client::parse_error(response);
    EXPECT_EQ(parsed.kind, error_kind::throttled);
    EXPECT_EQ(parsed.type, "ThrottlingException");

    response.headers.clear();
    EXPECT_EQ(dynamodb_client::parse_error(response).kind, error_kind::other);
    response.status = 502;
    EXPECT_EQ(dynamodb_client::parse_error(response).kind, error_kind::server);
}

TEST(DynamoDbClient, TransactionCanceledExposesOrderedReasons)
{
    fake_client_bundle f;
    json item{{"pk", attribute_value::s("ROOM#r")}, {"lastSeq", attribute_value::n(7)}};
    f.http.push(json_response(
        400, json{{"__type", std::string(ns) + "TransactionCanceledException"},
                  {"CancellationReasons",
                   json::array({{{"Code", "ConditionalCheckFailed"},
                                 {"Message", "The conditional request failed"},
                                 {"Item", item}},
                                {{"Code", "None"}},
                                {{"Code", "TransactionConflict"}, {"Message", "conflict"}}})},
                  {"Message", "Transaction cancelled, please refer cancellation reasons for specific reasons "
                              "[ConditionalCheckFailed, None, TransactionConflict]"}}));
    auto written = f.client.transact_write_items(json{{"TransactItems", json::array()}});
    ASSERT_FALSE(written);
    auto const& e = written.error();
    EXPECT_EQ(e.kind, error_kind::transaction_canceled);
    EXPECT_EQ(e.type, "TransactionCanceledException");
    EXPECT_EQ(e.reason_codes(),
              (std::vector<std::string>{"ConditionalCheckFailed", "None", "TransactionConflict"}));
    EXPECT_EQ(e.cancellation_reasons[0].item, item);
    EXPECT_TRUE(e.cancellation_reasons[1].item.is_null());
    EXPECT_EQ(e.cancellation_reasons[2].message, "conflict");
    EXPECT_NE(e.message.find("Transaction cancelled"), std::string::npos) << "capital-M Message is read";
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(f.http.requests().size(), 1u) << "a cancelled transaction is not retried by the client";
}

// --- retries ------------------------------------------------------------------------

TEST(DynamoDbClient, RetriesThrottlingWithCappedExponentialFullJitter)
{
    fake_client_bundle f(0.5);
    f.http.push(error_response(400, std::string(ns) + "ProvisionedThroughputExceededException"));
    f.http.push(error_response(400, "ThrottlingException"));
    f.http.push(error_response(400, std::string(ns) + "TransactionInProgressException"));
    f.http.push(json_response(200, json::object()));
    auto put = f.client.put_item(json{{"TableName", "T"}});
    ASSERT_TRUE(put) << put.error().describe();
    EXPECT_EQ(f.http.requests().size(), 4u);
    // random 0.5 * min(1000, 25 * 2^attempt)
    EXPECT_EQ(f.recorded_sleeps(),
              (std::vector<milliseconds>{milliseconds(12), milliseconds(25), milliseconds(50)}));
    EXPECT_EQ(f.client.capacity().retries, 3u);
    EXPECT_EQ(f.client.capacity().requests, 4u);
    // Each attempt is signed again and carries the same body.
    EXPECT_EQ(f.http.requests()[3].body, f.http.requests()[0].body);
}

TEST(DynamoDbClient, RetriesServerErrorsAndTransportFailures)
{
    fake_client_bundle f;
    f.http.push(error_response(500, std::string(ns) + "InternalServerError"));
    f.http.push_failure("connection reset");
    f.http.push(error_response(503, "ServiceUnavailable"));
    f.http.push(json_response(200, json{{"Attributes", json::object()}}));
    auto updated = f.client.update_item(json{{"TableName", "T"}});
    ASSERT_TRUE(updated) << updated.error().describe();
    EXPECT_EQ(f.http.requests().size(), 4u);
}

TEST(DynamoDbClient, DoesNotRetryNonTransientErrors)
{
    for (auto const& type : {std::string(ns) + "ConditionalCheckFailedException",
                             std::string("com.amazon.coral.validate#ValidationException"),
                             std::string(ns) + "ResourceNotFoundException",
                             std::string("com.amazon.coral.service#UnrecognizedClientException"),
                             std::string(ns) + "TransactionConflictException"}) {
        fake_client_bundle f;
        f.http.push(error_response(400, type));
        f.http.push(json_response(200, json::object()));
        auto put = f.client.put_item(json{{"TableName", "T"}});
        ASSERT_FALSE(put) << type;
        EXPECT_EQ(f.http.requests().size(), 1u) << type;
        EXPECT_TRUE(f.recorded_sleeps().empty()) << type;
    }
}

TEST(DynamoDbClient, GivesUpAfterMaxAttempts)
{
    fake_client_bundle f(0.999, 4);
    f.http.set_handler([](aws::http_request const&) -> result<aws::http_response> {
        return error_response(500, "InternalServerError");
    });
    auto got = f.client.get_item(get_request());
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error().kind, error_kind::server);
    EXPECT_EQ(got.error().status, 500);
    EXPECT_EQ(f.http.requests().size(), 4u);
    EXPECT_EQ(f.recorded_sleeps(),
              (std::vector<milliseconds>{milliseconds(24), milliseconds(49), milliseconds(99)}));
}

TEST(DynamoDbClient, BackoffIsCappedAndJittered)
{
    fake_client_bundle high(0.999);
    EXPECT_EQ(high.client.backoff(0), milliseconds(24));
    EXPECT_EQ(high.client.backoff(5), milliseconds(799));
    EXPECT_EQ(high.client.backoff(6), milliseconds(999)) << "capped at 1 s";
    EXPECT_EQ(high.client.backoff(60), milliseconds(999)) << "no overflow";
    fake_client_bundle zero(0.0);
    EXPECT_EQ(zero.client.backoff(6), milliseconds(0)) << "full jitter reaches zero";
}

// --- CRC32 --------------------------------------------------------------------------

TEST(DynamoDbClient, Crc32MatchesKnownBodies)
{
    // Bodies and headers as moto_server 5.2.1 sent them.
    EXPECT_EQ(crc32_of(R"({"TimeToLiveSpecification": {"Enabled": true, "AttributeName": "ttl"}})"),
              "3721321760");
    EXPECT_EQ(crc32_of(R"({"ConsumedCapacity": {"TableName": "T", "CapacityUnits": 1.0}})"), "1239747774");
}

TEST(DynamoDbClient, AcceptsMatchingCrc32)
{
    fake_client_bundle f;
    aws::http_response response;
    response.status = 200;
    response.body = R"({"ConsumedCapacity": {"TableName": "T", "CapacityUnits": 1.0}})";
    response.headers = {{"x-amz-crc32", "1239747774"}};
    f.http.push(response);
    auto put = f.client.put_item(json{{"TableName", "T"}});
    ASSERT_TRUE(put) << put.error().describe();
    EXPECT_EQ(f.http.requests().size(), 1u);
    EXPECT_DOUBLE_EQ(f.client.capacity().write_units, 1.0);
}

TEST(DynamoDbClient, Crc32MismatchIsARetryableTransportError)
{
    fake_client_bundle f;
    auto damaged = json_response(200, json{{"Item", {{"pk", attribute_value::s("a")}}}});
    damaged.body[damaged.body.size() - 3] = 'X'; // a flipped byte in transit
    f.http.push(damaged);
    f.http.push(json_response(200, json{{"Item", {{"pk", attribute_value::s("a")}}}}));
    auto got = f.client.get_item(get_request());
    ASSERT_TRUE(got) << got.error().describe();
    EXPECT_EQ(f.http.requests().size(), 2u);

    fake_client_bundle always(0.5, 3);
    always.http.set_handler([](aws::http_request const&) -> result<aws::http_response> {
        auto r = json_response(200, json::object());
        r.headers.back().second = "12345";
        return r;
    });
    auto failed = always.client.get_item(get_request());
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().kind, error_kind::transport);
    EXPECT_EQ(failed.error().type, "Crc32Mismatch");
    EXPECT_EQ(always.http.requests().size(), 3u);
}

TEST(DynamoDbClient, MissingCrc32IsAccepted)
{
    fake_client_bundle f;
    aws::http_response response;
    response.status = 200;
    response.body = "{}";
    f.http.push(response);
    EXPECT_TRUE(f.client.get_item(get_request()));
}

// --- Query, BatchWriteItem, BatchGetItem --------------------------------------------

json items_page(std::vector<std::string> const& ids, std::optional<std::string> last_key)
{
    json page{{"Items", json::array()}, {"Count", ids.size()}};
    for (auto const& id : ids) {
        page["Items"].push_back({{"pk", attribute_value::s("P")}, {"sk", attribute_value::s(id)}});
    }
    if (last_key) {
        page["LastEvaluatedKey"] = {{"pk", attribute_value::s("P")}, {"sk", attribute_value::s(*last_key)}};
    }
    return page;
}

TEST(DynamoDbClient, QueryFollowsLastEvaluatedKey)
{
    fake_client_bundle f;
    f.http.push(json_response(200, items_page({"a", "b"}, "b")));
    f.http.push(json_response(200, items_page({"c", "d"}, "d")));
    f.http.push(json_response(200, items_page({"e"}, std::nullopt)));
    auto items = f.client.query(json{{"TableName", "T"}, {"KeyConditionExpression", "pk = :p"}});
    ASSERT_TRUE(items) << items.error().describe();
    ASSERT_EQ(items->size(), 5u);
    EXPECT_EQ(attribute_value::get_s(items->back(), "sk"), "e");
    ASSERT_EQ(f.http.requests().size(), 3u);
    EXPECT_FALSE(f.http.body(0).contains("ExclusiveStartKey"));
    EXPECT_EQ(f.http.body(1)["ExclusiveStartKey"]["sk"], attribute_value::s("b"));
    EXPECT_EQ(f.http.body(2)["ExclusiveStartKey"]["sk"], attribute_value::s("d"));
    EXPECT_FALSE(f.http.body(0).contains("Limit"));
}

TEST(DynamoDbClient, QueryStopsAtAnEmptyLastPage)
{
    fake_client_bundle f;
    f.http.push(json_response(200, items_page({"a"}, "a")));
    f.http.push(json_response(200, items_page({}, std::nullopt)));
    auto items = f.client.query(json{{"TableName", "T"}});
    ASSERT_TRUE(items);
    EXPECT_EQ(items->size(), 1u);
    EXPECT_EQ(f.http.requests().size(), 2u);
}

TEST(DynamoDbClient, QueryWithMaxItemsAsksOnlyForTheRemainder)
{
    fake_client_bundle f;
    // A filter left one match out of the first page's Limit of 3.
    f.http.push(json_response(200, items_page({"a", "b"}, "c")));
    f.http.push(json_response(200, items_page({"d"}, "d")));
    auto items = f.client.query(json{{"TableName", "T"}}, 3);
    ASSERT_TRUE(items);
    EXPECT_EQ(items->size(), 3u);
    ASSERT_EQ(f.http.requests().size(), 2u) << "stops once enough items are collected";
    EXPECT_EQ(f.http.body(0)["Limit"], 3);
    EXPECT_EQ(f.http.body(1)["Limit"], 1);
}

TEST(DynamoDbClient, QueryFailurePropagates)
{
    fake_client_bundle f;
    f.http.push(json_response(200, items_page({"a"}, "a")));
    f.http.push(error_response(400, std::string(ns) + "ResourceNotFoundException"));
    auto items = f.client.query(json{{"TableName", "T"}});
    ASSERT_FALSE(items);
    EXPECT_EQ(items.error().kind, error_kind::resource_not_found);
}

json put_of(std::string const& id)
{
    return {{"PutRequest", {{"Item", {{"pk", attribute_value::s(id)}, {"sk", attribute_value::s("x")}}}}}};
}

TEST(DynamoDbClient, BatchWriteResubmitsUnprocessedItemsWithBackoff)
{
    fake_client_bundle f(0.5);
    f.http.push(
        json_response(200, json{{"UnprocessedItems", {{"T", json::array({put_of("b"), put_of("c")})}}}}));
    f.http.push(json_response(200, json{{"UnprocessedItems", {{"T", json::array({put_of("c")})}}}}));
    f.http.push(json_response(200, json{{"UnprocessedItems", json::object()}}));
    auto written = f.client.batch_write_item(
        json{{"RequestItems", {{"T", json::array({put_of("a"), put_of("b"), put_of("c")})}}}});
    ASSERT_TRUE(written) << written.error().describe();
    ASSERT_EQ(f.http.requests().size(), 3u);
    EXPECT_EQ(f.http.body(0)["RequestItems"]["T"].size(), 3u);
    EXPECT_EQ(f.http.body(1)["RequestItems"]["T"], json::array({put_of("b"), put_of("c")}));
    EXPECT_EQ(f.http.body(2)["RequestItems"]["T"], json::array({put_of("c")}));
    EXPECT_EQ(f.recorded_sleeps(), (std::vector<milliseconds>{milliseconds(12), milliseconds(25)}));
}

TEST(DynamoDbClient, BatchWriteGivesUpWhenItemsStayUnprocessed)
{
    fake_client_bundle f(0.5, 3);
    f.http.set_handler([](aws::http_request const&) -> result<aws::http_response> {
        return json_response(200, json{{"UnprocessedItems", {{"T", json::array({put_of("a")})}}}});
    });
    auto written = f.client.batch_write_item(json{{"RequestItems", {{"T", json::array({put_of("a")})}}}});
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().kind, error_kind::throttled);
    EXPECT_EQ(f.http.requests().size(), 3u);
}

TEST(DynamoDbClient, BatchGetMergesResponsesAndResubmitsUnprocessedKeys)
{
    fake_client_bundle f;
    json key_b{{"pk", attribute_value::s("b")}, {"sk", attribute_value::s("x")}};
    json item_a{{"pk", attribute_value::s("a")}};
    json item_b{{"pk", attribute_value::s("b")}};
    json first;
    first["Responses"]["T"] = json::array({item_a});
    first["UnprocessedKeys"]["T"]["Keys"] = json::array({key_b});
    json second;
    second["Responses"]["T"] = json::array({item_b});
    second["UnprocessedKeys"] = json::object();
    f.http.push(json_response(200, first));
    f.http.push(json_response(200, second));
    auto got = f.client.batch_get_item(json{{"RequestItems", {{"T", {{"Keys", json::array()}}}}}});
    ASSERT_TRUE(got) << got.error().describe();
    ASSERT_EQ((*got)["T"].size(), 2u);
    EXPECT_EQ(f.http.body(1)["RequestItems"]["T"]["Keys"], json::array({key_b}));
}

// --- capacity -----------------------------------------------------------------------

TEST(DynamoDbClient, AccumulatesConsumedCapacityByOperation)
{
    fake_client_bundle f;
    f.http.push(json_response(200, json{{"ConsumedCapacity", {{"TableName", "T"}, {"CapacityUnits", 0.5}}}}));
    f.http.push(json_response(200, json{{"ConsumedCapacity", {{"TableName", "T"}, {"CapacityUnits", 1.0}}}}));
    f.http.push(json_response(
        200, json{{"ConsumedCapacity", json::array({{{"TableName", "A"}, {"CapacityUnits", 4.0}},
                                                    {{"TableName", "B"}, {"CapacityUnits", 2.0}}})}}));
    f.http.push(json_response(200, json{{"Items", json::array()},
                                        {"ConsumedCapacity", {{"TableName", "T"}, {"CapacityUnits", 1.5}}}}));
    // With a breakdown, the read/write split is taken as reported.
    f.http.push(json_response(200, json{{"ConsumedCapacity",
                                         {{"TableName", "T"},
                                          {"CapacityUnits", 3.0},
                                          {"ReadCapacityUnits", 1.0},
                                          {"WriteCapacityUnits", 2.0}}}}));
    ASSERT_TRUE(f.client.get_item(get_request()));
    ASSERT_TRUE(f.client.put_item(json{{"TableName", "T"}}));
    ASSERT_TRUE(f.client.transact_write_items(json{{"TransactItems", json::array()}}));
    ASSERT_TRUE(f.client.query(json{{"TableName", "T"}}));
    ASSERT_TRUE(f.client.update_item(json{{"TableName", "T"}}));
    auto const totals = f.client.capacity();
    EXPECT_DOUBLE_EQ(totals.read_units, 0.5 + 1.5 + 1.0);
    EXPECT_DOUBLE_EQ(totals.write_units, 1.0 + 6.0 + 2.0);
    EXPECT_EQ(totals.requests, 5u);
}

TEST(DynamoDbClient, CapacityCountersAreThreadSafe)
{
    fake_client_bundle f;
    f.http.set_handler([](aws::http_request const&) -> result<aws::http_response> {
        return json_response(200, json{{"ConsumedCapacity", {{"TableName", "T"}, {"CapacityUnits", 1.0}}}});
    });
    constexpr int threads = 4;
    constexpr int calls = 200;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < calls; ++i) {
                static_cast<void>(f.client.put_item(json{{"TableName", "T"}}));
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    EXPECT_DOUBLE_EQ(f.client.capacity().write_units, threads * calls);
    EXPECT_EQ(f.client.capacity().requests, static_cast<std::uint64_t>(threads * calls));
}

TEST(DynamoDbClient, InvalidUtf8IsRefusedBeforeSending)
{
    fake_client_bundle f;
    auto put = f.client.put_item(json{{"TableName", "T"}, {"Item", {{"t", attribute_value::s("\xff\xfe")}}}});
    ASSERT_FALSE(put);
    EXPECT_EQ(put.error().kind, error_kind::validation);
    EXPECT_TRUE(f.http.requests().empty());
}

} // namespace
} // namespace stratus::dynamodb
