#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/apigw_event.hpp"
#include "core/known_connections.hpp"
#include "core/model.hpp"
#include "core/ports/clock.hpp"
#include "core/ports/logger.hpp"
#include "core/ports/pusher.hpp"
#include "core/ports/store.hpp"
#include "core/ports/token_verifier.hpp"
#include "core/protocol.hpp"
#include "core/recently_gone.hpp"
#include "core/user_rate_limiter.hpp"

namespace stratus {

/// Settings of the chat use cases.
struct chat_options {
    /// Lifetime of a connection record: API Gateway's 2 h cap plus grace.
    std::int64_t connection_ttl_s = 2 * 3600 + 300;
    /// How long a (userId, clientMsgId) keeps deduplicating.
    std::int64_t dedupe_ttl_s = 24 * 3600;
    /// Requests per second per user over all of their connections (token
    /// bucket; 0 disables); `ping` is not counted. The excess gets rate_limited.
    double user_rate_per_second = 100;
    double user_rate_burst = 1000;
    /// Connection records kept in process so a message need not read its
    /// sender's record from the store (known_connections; 0 disables), and
    /// how long one is trusted before it is read again.
    std::size_t known_connections_capacity = 16384;
    std::int64_t known_connections_max_age_s = 60;
};

/// The chat use cases, one per route. Synchronous and free of I/O of its own:
/// everything goes through the ports. Safe to call from many threads.
class chat_service {
public:
    /// `log` may be null (nothing is logged).
    chat_service(store& store, pusher& pusher, clock& clock, token_verifier& verifier,
                 chat_options options = {}, logger* log = nullptr);

    /// Handles one API Gateway event and returns the proxy response. Never
    /// throws for bad input: problems become a 4xx/5xx status or an error frame.
    [[nodiscard]] proxy_response handle(apigw_event const& event);

private:
    proxy_response on_connect(apigw_event const& event);
    proxy_response on_disconnect(apigw_event const& event);
    proxy_response on_message(apigw_event const& event);
    /// The sender's connection record: from known_ when this process has it,
    /// else from the store (then remembered). nullopt: not registered.
    result<std::optional<connection_record>> sender_of(std::string const& connection_id);
    result<std::string> dispatch(client_request const& request, connection_record const& caller);

    result<std::string> join_room(client_request const& request, connection_record const& caller);
    result<std::string> leave_room(client_request const& request, connection_record const& caller);
    result<std::string> send_message(client_request const& request, connection_record const& caller);
    result<std::string> get_history(client_request const& request, connection_record const& caller);
    result<void> typing(client_request const& request, connection_record const& caller);
    result<std::string> list_rooms(connection_record const& caller);
    result<std::string> mark_read(client_request const& request, connection_record const& caller);
    result<void> require_member(std::string_view room, std::string_view user_id);

    /// Pushes `payload` to the room's subscribers (optionally skipping one
    /// user's connections) and cleans up every connection that is gone.
    void broadcast(std::string_view room, std::string_view payload, std::string_view skip_user = {});
    /// The push targets of a fan-out list, optionally without one user's connections.
    static std::vector<push_target> targets_of(std::vector<subscriber>& subscribers,
                                               std::string_view skip_user = {});
    /// Pushes to the given connections and returns the ids of the ones that are gone.
    std::vector<std::string> push_to(std::vector<push_target> const& targets, std::string_view payload);
    /// Deletes gone connections, telling their rooms they went offline; repeats
    /// for connections found gone while doing so.
    void remove_gone(std::vector<std::string> gone);
    /// Removes one connection and announces rooms where its user went offline;
    /// returns further gone connections met on the way.
    std::vector<std::string> remove_and_announce(std::string_view connection_id);

    std::mutex& room_lock(std::string_view room);
    std::int64_t now_s();

    store& store_;
    pusher& pusher_;
    clock& clock_;
    token_verifier& verifier_;
    chat_options options_;
    null_logger null_log_;
    logger& log_;

    // Held from commit to fan-out of a message so that, within one process,
    // every subscriber receives a room's messages in seq order. Striped by room.
    std::array<std::mutex, 64> room_locks_;

    user_rate_limiter user_rate_;
    recently_gone gone_;
    known_connections known_;
};

} // namespace stratus
