#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "core/ports/store.hpp"

namespace stratus {

/// The store port in memory: the reference implementation of the contract,
/// used by unit tests and micro-benchmarks. Not durable.
class memory_store final : public store {
public:
    // store
    result<void> put_connection(connection_record const& record) override;
    result<std::optional<connection_record>> get_connection(std::string_view connection_id,
                                                            std::int64_t now_s) override;
    result<removal_result> remove_connection(std::string_view connection_id) override;
    result<join_result> join_room(std::string_view room, connection_record const& connection,
                                  std::int64_t now_ms) override;
    result<leave_result> leave_room(std::string_view room, std::string_view user_id) override;
    result<bool> is_member(std::string_view room, std::string_view user_id) override;
    result<std::vector<subscriber>> subscribers(std::string_view room, std::int64_t now_s) override;
    result<std::vector<room_summary>> list_rooms(std::string_view user_id, std::int64_t now_s) override;
    result<append_result> append_message(new_message const& message) override;
    result<history_page> history(history_query const& query) override;
    result<std::int64_t> mark_read(std::string_view room, std::string_view user_id,
                                   std::int64_t seq) override;
    result<std::int64_t> last_seq(std::string_view room) override;

private:
    struct room_state {
        std::int64_t last_seq = 0;
        std::map<std::string, std::int64_t> members;   // user id -> last read seq
        std::map<std::string, identity> subscriptions; // connection id -> user
        std::map<std::int64_t, stored_message> messages;
    };
    struct dedupe_entry {
        std::string room;
        std::int64_t seq = 0;
        std::int64_t expires_at_s = 0;
    };

    bool user_subscribed(room_state const& room, std::string_view user_id) const;

    // This mutex synchronizes all access to the maps below.
    std::mutex mutex_;
    std::map<std::string, connection_record, std::less<>> connections_;
    std::map<std::string, std::set<std::string>, std::less<>> rooms_of_connection_;
    std::map<std::string, room_state, std::less<>> rooms_;
    std::map<std::pair<std::string, std::string>, dedupe_entry> dedupe_;
};

} // namespace stratus
