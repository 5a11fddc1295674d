#pragma once

namespace stratus {

/// How sqlite_store opens its database.
struct sqlite_options {
    /// false: PRAGMA synchronous=NORMAL. In WAL mode every committed
    /// transaction survives a process crash (kill -9); the last few may be
    /// lost on power loss or an OS crash, but the file is never corrupted.
    /// true: PRAGMA synchronous=FULL, which also survives power loss at the
    /// cost of an fsync per commit.
    bool synchronous_full = false;
    /// How long a statement waits for another connection's lock before it
    /// fails with errc::unavailable.
    int busy_timeout_ms = 5000;
};

} // namespace stratus
