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
/// A record never changes after $connect and its id is never reused. What ends
/// it is its own $disconnect, a push that found it gone, or its TTL; chat_service
/// forgets it on the first two and find() honours the TTL. Another process (a
/// Lambda instance, a gateway on the same store) may delete a record this one
/// still holds, normally because the socket is gone, so no message of it
/// arrives here; for the other cases an entry is trusted for at most
/// `max_age_s` after it was remembered, then read again. The oldest entries
/// are dropped beyond `capacity`; capacity 0 disables the cache. Thread-safe.
class known_connections {
public:
    known_connections(std::size_t capacity, std::int64_t max_age_s)
        : capacity_(capacity), max_age_s_(max_age_s)
    {
    }

    /// The record, while it has not expired at `now_s` (the store's rule) and
    /// was remembered less than max_age_s before `now_s`.
    [[nodiscard]] std::optional<connection_record> find(std::string_view connection_id,
                                                        std::int64_t now_s) const;

    void remember(connection_record const& record, std::int64_t now_s);
    void forget(std::string_view connection_id);

    [[nodiscard]] std::size_t size() const;

private:
    struct entry {
        connection_record record;
        std::int64_t remembered_at_s = 0;
    };

    std::size_t capacity_;
    std::int64_t max_age_s_;
    // This mutex synchronizes records_ and order_.
    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> records_;
    /// Insertion order, for eviction; may hold ids already forgotten.
    std::deque<std::string> order_;
};

} // namespace stratus
