#include "lambda/counting_store.hpp"

namespace stratus::lambda {

template <class T>
result<T> counting_store::counted(result<T> outcome)
{
    if (!outcome) {
        auto const code = outcome.error().code;
        if (code == errc::unavailable || code == errc::throttled || code == errc::internal) {
            ++metrics_.store_errors;
        }
    }
    return outcome;
}

result<void> counting_store::put_connection(connection_record const& record)
{
    return counted(inner_.put_connection(record));
}

result<std::optional<connection_record>> counting_store::get_connection(std::string_view connection_id,
                                                                        std::int64_t now_s)
{
    return counted(inner_.get_connection(connection_id, now_s));
}

result<removal_result> counting_store::remove_connection(std::string_view connection_id)
{
    return counted(inner_.remove_connection(connection_id));
}

result<join_result> counting_store::join_room(std::string_view room, connection_record const& connection,
                                              std::int64_t now_ms)
{
    return counted(inner_.join_room(room, connection, now_ms));
}

result<leave_result> counting_store::leave_room(std::string_view room, std::string_view user_id)
{
    return counted(inner_.leave_room(room, user_id));
}

result<bool> counting_store::is_member(std::string_view room, std::string_view user_id)
{
    return counted(inner_.is_member(room, user_id));
}

result<std::vector<subscriber>> counting_store::subscribers(std::string_view room, std::int64_t now_s)
{
    return counted(inner_.subscribers(room, now_s));
}

result<std::vector<room_summary>> counting_store::list_rooms(std::string_view user_id, std::int64_t now_s)
{
    return counted(inner_.list_rooms(user_id, now_s));
}

result<append_result> counting_store::append_message(new_message const& message)
{
    auto appended = counted(inner_.append_message(message));
    if (appended && !appended->duplicate) {
        ++metrics_.messages_stored;
    }
    return appended;
}

result<history_page> counting_store::history(history_query const& query)
{
    return counted(inner_.history(query));
}

result<std::int64_t> counting_store::mark_read(std::string_view room, std::string_view user_id,
                                               std::int64_t seq)
{
    return counted(inner_.mark_read(room, user_id, seq));
}

result<std::int64_t> counting_store::last_seq(std::string_view room)
{
    return counted(inner_.last_seq(room));
}

} // namespace stratus::lambda
