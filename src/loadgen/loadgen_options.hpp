#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace stratus::loadgen {

/// Which server the load generator talks to.
enum class wire_protocol {
    /// The Stratus client protocol: dev token, joinRoom, sendMessage + ack, message pushes.
    stratus,
    /// The benchmark floor server: every text frame is echoed byte for byte to every client.
    floor,
};

/// A process whose CPU time and memory are sampled around the measurement
/// (`--watch gateway=1234`).
struct watched_process {
    std::string name;
    int pid = 0;
};

/// Everything one load-generator run needs; filled from the command line.
struct loadgen_options {
    wire_protocol protocol = wire_protocol::stratus;
    /// ws://127.0.0.1:PORT/STAGE (Stratus) or ws://127.0.0.1:PORT/ (floor). Loopback only.
    std::string url;
    /// Clients in the room (all of them receive every message).
    std::uint32_t clients = 10;
    /// The first `senders` clients send.
    std::uint32_t senders = 1;
    /// Messages each sender sends.
    std::uint32_t messages = 100;
    /// Bytes of message text (the payload; the Stratus frame adds its JSON around it).
    std::uint32_t size = 160;
    /// Messages per second per sender; 0 = closed loop (wait for the ack / own echo).
    double rate = 0;
    /// Closed loop: messages a sender may have unacknowledged at once.
    std::uint32_t window = 1;
    /// I/O threads (each runs its own io_context and a share of the clients).
    std::uint32_t threads = 1;
    /// Distinct users (dev-token names) the clients are spread over; 0 = one per client.
    std::uint32_t users = 0;
    /// Room to join (Stratus); empty = a fresh name per run.
    std::string room;
    /// Connections started at once (per run, split over the threads).
    std::uint32_t connect_concurrency = 64;
    std::chrono::milliseconds connect_timeout{30'000};
    /// After the last delivery or ack, how long without any progress ends the run.
    std::chrono::milliseconds drain_timeout{5'000};
    /// Quiet time after the joins (presence frames) before sending starts.
    std::chrono::milliseconds settle{300};
    /// Upper bound on the whole run; exceeded = failure.
    std::chrono::milliseconds max_duration{120'000};
    std::vector<watched_process> watch;
};

} // namespace stratus::loadgen
