#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/model.hpp"

namespace stratus {

/// The connection records this process has registered or read, so that a
/// message does not read its sender's record from the store again: one
/// GetItem (DynamoDB) or read transaction (SQLite) less per frame.
///
/// Safe because a record never changes after $connect and its id is never
/// reused: the only events that end it are its own $disconnect, a push that
/// found it gone, and its TTL, and each of those ends its messages too. This
/// process forgets a record on the first two (chat_service) and honours the
/// TTL here. Another process (another Lambda instance) may delete a record
/// this one still holds; then the socket is already closed, so no message of
/// it can arrive here. The oldest entries are dropped beyond `capacity`;
/// capacity 0 disables the cache. Thread-safe.
class known_connections {
public:
    explicit known_connections(std::size_t capacity) : capacity_(capacity) {}

    /// The record, while it has not expired at `now_s` (the store's rule).
    [[nodiscard]] std::optional<connection_record> find(std::string_view connection_id,
                                                        std::int64_t now_s) const;

    void remember(connection_record const& record);
    void forget(std::string_view connection_id);

    [[nodiscard]] std::size_t size() const;

private:
    std::size_t capacity_;
    // This mutex synchronizes records_ and order_.
    mutable std::mutex mutex_;
    std::unordered_map<std::string, connection_record> records_;
    /// Insertion order, for eviction; may hold ids already forgotten.
    std::deque<std::string> order_;
};

} // namespace stratus
