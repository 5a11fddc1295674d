#include "gateway/route_table.hpp"

#include <gtest/gtest.h>

namespace stratus::gateway {
namespace {

TEST(RouteTable, SelectsByActionAndFallsBackToDefault)
{
    auto const table = route_table::stratus_default();
    EXPECT_EQ(table.select(R"({"action":"sendMessage"})")->key, "sendMessage");
    EXPECT_EQ(table.select(R"({"action":"sendmessage"})")->key, "$default") << "exact, case-sensitive match";
    EXPECT_EQ(table.select(R"({"action":"nope"})")->key, "$default");
    EXPECT_EQ(table.select("not json")->key, "$default");
    EXPECT_EQ(table.select(R"({"noaction":1})")->key, "$default");
    EXPECT_EQ(table.select(R"({"action":"$connect"})")->key, "$default") << "clients cannot invoke $ routes";
    EXPECT_TRUE(table.find("$connect").has_value());
    EXPECT_FALSE(table.find("$connect")->route_response);
    EXPECT_TRUE(table.find("ping")->route_response);
}

TEST(RouteTable, WithoutDefaultAnUnmatchedFrameHasNoRoute)
{
    auto table = route_table::parse(R"({"routeSelectionExpression":"$request.body.action",
        "routes":[{"routeKey":"$connect"},{"routeKey":"ping"}]})");
    ASSERT_TRUE(table) << table.error().detail;
    EXPECT_EQ(table->select(R"({"action":"ping"})")->key, "ping");
    EXPECT_FALSE(table->select(R"({"action":"other"})").has_value());
    EXPECT_FALSE(table->select("garbage").has_value());
    EXPECT_FALSE(table->find("$disconnect").has_value());
}

TEST(RouteTable, EvaluatesNestedPathsAndStringifiesScalars)
{
    auto table = route_table::parse(R"({"routeSelectionExpression":"$request.body.meta.kind",
        "routes":[{"routeKey":"7"},{"routeKey":"true"},{"routeKey":"chat","integration":"unavailable",
        "routeResponse":false}]})");
    ASSERT_TRUE(table) << table.error().detail;
    EXPECT_EQ(table->select(R"({"meta":{"kind":7}})")->key, "7");
    EXPECT_EQ(table->select(R"({"meta":{"kind":true}})")->key, "true");
    auto chat = table->select(R"({"meta":{"kind":"chat"}})");
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->integration, integration_kind::unavailable);
    EXPECT_FALSE(chat->route_response);
    EXPECT_FALSE(table->select(R"({"meta":"flat"})").has_value());
}

TEST(RouteTable, RejectsBadConfiguration)
{
    EXPECT_FALSE(route_table::parse("{"));
    EXPECT_FALSE(route_table::parse(R"({"routes":[]})"));
    EXPECT_FALSE(route_table::parse(R"({"routeSelectionExpression":"$request.header.x","routes":[]})"));
    EXPECT_FALSE(route_table::parse(R"({"routeSelectionExpression":"$request.body.","routes":[]})"));
    EXPECT_FALSE(
        route_table::parse(R"({"routeSelectionExpression":"$request.body.a","routes":[{"routeKey":"$x"}]})"));
    EXPECT_FALSE(
        route_table::parse(R"({"routeSelectionExpression":"$request.body.a","routes":[{"routeKey":"a"},
        {"routeKey":"a"}]})"));
    EXPECT_FALSE(
        route_table::parse(R"({"routeSelectionExpression":"$request.body.a","routes":[{"routeKey":"a",
        "integration":"lambda"}]})"));
    EXPECT_FALSE(
        route_table::parse(R"({"routeSelectionExpression":"$request.body.a","routes":[{"routeKey":5}]})"));
}

} // namespace
} // namespace stratus::gateway
