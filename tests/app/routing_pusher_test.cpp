#include "app/routing_pusher.hpp"

#include <gtest/gtest.h>

#include "fakes/recording_pusher.hpp"

namespace stratus {
namespace {

TEST(RoutingPusher, SendsWhatIsNotHeldLocallyToTheHoldingGateway)
{
    testing::recording_pusher local;
    testing::recording_pusher remote;
    local.mark_gone("b");
    local.mark_gone("c");
    local.mark_gone("d");
    remote.mark_gone("c");
    routing_pusher pusher(local, remote);
    std::vector<push_target> const targets{
        {"a", "http://127.0.0.1:1/local"}, // held here
        {"b", "http://127.0.0.1:2/local"}, // held by gateway 2
        {"c", "http://127.0.0.1:2/local"}, // gone everywhere
        {"d", ""},                         // not here, no endpoint: gone
    };
    auto const statuses = pusher.push(targets, "hi");
    EXPECT_EQ(statuses, (std::vector<push_status>{push_status::sent, push_status::sent, push_status::gone,
                                                  push_status::gone}));
    EXPECT_EQ(local.to("a"), std::vector<std::string>{"hi"});
    EXPECT_EQ(remote.to("b"), std::vector<std::string>{"hi"});
    EXPECT_TRUE(remote.to("a").empty()) << "nothing held locally is sent twice";
}

} // namespace
} // namespace stratus
