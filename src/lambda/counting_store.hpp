#pragma once

#include "core/ports/store.hpp"
#include "lambda/invocation_metrics.hpp"

namespace stratus::lambda {

/// A store decorator that counts stored messages (new, not duplicates) and
/// store failures (unavailable, throttled, internal) into the invocation's
/// metrics. Everything else passes through unchanged.
class counting_store final : public store {
public:
    /// `inner` and `metrics` must outlive the decorator.
    counting_store(store& inner, invocation_metrics& metrics) : inner_(inner), metrics_(metrics) {}

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
    template <class T>
    result<T> counted(result<T> outcome);

    store& inner_;
    invocation_metrics& metrics_;
};

} // namespace stratus::lambda
