// The benchmark floor: the least work a WebSocket broadcast server can do.
//
// One thread and epoll. It accepts connections, answers the WebSocket upgrade,
// reads client frames, and for every complete text (or binary) message builds
// ONE server frame and writes it to every open connection, the sender
// included, with one send() per recipient (TCP_NODELAY). No JSON, no store,
// no queue unless a socket is full. bench/run measures Stratus as a ratio to
// this server, run on the same machine in the same run.
//
//   stratus-floor-server [--host 127.0.0.1] [--port 0]
// prints "floor server listening on HOST:PORT" when ready; stops on SIGINT/SIGTERM.

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace {

constexpr std::size_t max_header_bytes = 16 * 1024;
constexpr std::size_t max_message_bytes = 1024 * 1024;
// A client this far behind is dropped rather than buffered without bound.
constexpr std::size_t max_pending_bytes = 64 * 1024 * 1024;
constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

volatile std::sig_atomic_t stop_requested = 0;

void on_signal(int)
{
    stop_requested = 1;
}

/// One client socket: the upgrade request, then frames.
struct connection {
    int fd = -1;
    bool upgraded = false;
    bool want_write = false;
    /// Position in floor_server::open_ (for O(1) removal).
    std::size_t slot = 0;
    std::string in;
    /// Bytes not yet accepted by the kernel, sent when the socket is writable.
    std::string out;
    /// A fragmented message being reassembled, and its opcode.
    std::string fragments;
    std::uint8_t fragments_opcode = 0;
};

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string accept_key(std::string_view key)
{
    std::string input(key);
    input.append(websocket_guid);
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<unsigned char const*>(input.data()), input.size(), digest.data());
    std::array<unsigned char, 4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1> encoded{};
    auto const n = EVP_EncodeBlock(encoded.data(), digest.data(), SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char const*>(encoded.data()), static_cast<std::size_t>(n));
}

/// A header's value in an HTTP request head (case-insensitive name), trimmed.
std::string_view header_value(std::string_view head, std::string_view name)
{
    std::size_t pos = head.find("\r\n");
    while (pos != std::string_view::npos && pos + 2 < head.size()) {
        auto const begin = pos + 2;
        auto const end = head.find("\r\n", begin);
        auto const line =
            head.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
        auto const colon = line.find(':');
        if (colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0) {
            auto value = line.substr(colon + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
                value.remove_prefix(1);
            }
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
                value.remove_suffix(1);
            }
            return value;
        }
        pos = end;
    }
    return {};
}

/// An unmasked server frame (FIN set) carrying `payload`.
std::string server_frame(std::uint8_t opcode, std::string_view payload)
{
    std::string frame;
    frame.reserve(payload.size() + 10);
    frame.push_back(static_cast<char>(0x80 | opcode));
    auto const n = payload.size();
    if (n < 126) {
        frame.push_back(static_cast<char>(n));
    } else if (n <= 0xffff) {
        frame.push_back(static_cast<char>(126));
        frame.push_back(static_cast<char>((n >> 8) & 0xff));
        frame.push_back(static_cast<char>(n & 0xff));
    } else {
        frame.push_back(static_cast<char>(127));
        for (int shift = 56; shift >= 0; shift -= 8) {
            frame.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff));
        }
    }
    frame.append(payload);
    return frame;
}

class floor_server {
public:
    bool listen(std::string const& host, std::uint16_t port)
    {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0) {
            return error("socket");
        }
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
            std::fprintf(stderr, "floor server: --host must be an IPv4 address\n");
            return false;
        }
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            return error("bind");
        }
        if (::listen(listen_fd_, SOMAXCONN) != 0) {
            return error("listen");
        }
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) {
            return error("epoll_create1");
        }
        watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
        std::printf("floor server listening on %s:%u\n", host.c_str(),
                    static_cast<unsigned>(ntohs(addr.sin_port)));
        std::fflush(stdout);
        return true;
    }

    void run()
    {
        std::array<epoll_event, 256> events{};
        while (stop_requested == 0) {
            auto const n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), -1);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                error("epoll_wait");
                return;
            }
            for (int i = 0; i < n; ++i) {
                auto const fd = events[static_cast<std::size_t>(i)].data.fd;
                auto const flags = events[static_cast<std::size_t>(i)].events;
                if (fd == listen_fd_) {
                    accept_all();
                    continue;
                }
                // An earlier event of this batch may have closed it.
                auto* c = find(fd);
                if (c == nullptr) {
                    continue;
                }
                if ((flags & EPOLLOUT) != 0 && !flush(*c)) {
                    continue;
                }
                if ((flags & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                    on_readable(*c);
                }
            }
        }
    }

private:
    static bool error(char const* what)
    {
        std::fprintf(stderr, "floor server: %s: %s\n", what, std::strerror(errno));
        return false;
    }

    void watch(int fd, std::uint32_t events, int op) const
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_fd_, op, fd, &ev);
    }

    connection* find(int fd)
    {
        auto const i = static_cast<std::size_t>(fd);
        return i < by_fd_.size() ? by_fd_[i].get() : nullptr;
    }

    void accept_all()
    {
        for (;;) {
            int const fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                return; // EAGAIN, or a transient error: the next readiness retries
            }
            int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto const i = static_cast<std::size_t>(fd);
            if (i >= by_fd_.size()) {
                by_fd_.resize(i + 1);
            }
            by_fd_[i] = std::make_unique<connection>();
            by_fd_[i]->fd = fd;
            watch(fd, EPOLLIN, EPOLL_CTL_ADD);
        }
    }

    void close_connection(connection& c)
    {
        if (c.upgraded) {
            // Swap-remove from the broadcast list.
            auto const last = open_.back();
            open_[c.slot] = last;
            by_fd_[static_cast<std::size_t>(last)]->slot = c.slot;
            open_.pop_back();
        }
        ::close(c.fd);
        by_fd_[static_cast<std::size_t>(c.fd)].reset();
    }

    void on_readable(connection& c)
    {
        std::array<char, 64 * 1024> chunk{};
        for (;;) {
            auto const n = ::recv(c.fd, chunk.data(), chunk.size(), 0);
            if (n > 0) {
                c.in.append(chunk.data(), static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                break;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return close_connection(c); // EOF or error
        }
        if (!c.upgraded && !upgrade(c)) {
            return;
        }
        if (c.upgraded) {
            read_frames(c);
        }
    }

    // Answers the upgrade once its head is complete; false if the connection was closed.
    bool upgrade(connection& c)
    {
        auto const end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (c.in.size() > max_header_bytes) {
                close_connection(c);
                return false;
            }
            return true;
        }
        auto const head = std::string_view(c.in).substr(0, end + 2);
        auto const key = header_value(head, "Sec-WebSocket-Key");
        if (key.empty()) {
            static constexpr std::string_view bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
            ::send(c.fd, bad.data(), bad.size(), MSG_NOSIGNAL);
            close_connection(c);
            return false;
        }
        std::string response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: " +
            accept_key(key) + "\r\n\r\n";
        c.in.erase(0, end + 4);
        c.upgraded = true;
        c.slot = open_.size();
        open_.push_back(c.fd);
        return send_to(c, response);
    }

    // Parses every complete frame in c.in.
    void read_frames(connection& c)
    {
        std::size_t pos = 0;
        auto const fd = c.fd;
        while (true) {
            auto const available = c.in.size() - pos;
            if (available < 2) {
                break;
            }
            auto const* p = reinterpret_cast<unsigned char const*>(c.in.data() + pos);
            bool const fin = (p[0] & 0x80) != 0;
            std::uint8_t const opcode = p[0] & 0x0f;
            bool const masked = (p[1] & 0x80) != 0;
            std::uint64_t length = p[1] & 0x7f;
            std::size_t header = 2;
            if (length == 126) {
                if (available < 4) {
                    break;
                }
                length = (std::uint64_t{p[2]} << 8) | p[3];
                header = 4;
            } else if (length == 127) {
                if (available < 10) {
                    break;
                }
                length = 0;
                for (int i = 2; i < 10; ++i) {
                    length = (length << 8) | p[i];
                }
                header = 10;
            }
            if (!masked || length > max_message_bytes) {
                // Client frames must be masked (RFC 6455 §5.1); huge ones are refused.
                return close_connection(c);
            }
            if (available < header + 4 + length) {
                break;
            }
            std::array<unsigned char, 4> mask{p[header], p[header + 1], p[header + 2], p[header + 3]};
            auto* payload = c.in.data() + pos + header + 4;
            for (std::size_t i = 0; i < length; ++i) {
                payload[i] = static_cast<char>(static_cast<unsigned char>(payload[i]) ^ mask[i & 3]);
            }
            std::string_view const data(payload, static_cast<std::size_t>(length));
            pos += header + 4 + static_cast<std::size_t>(length);
            if (!on_frame(c, fin, opcode, data)) {
                return; // closed
            }
            if (find(fd) == nullptr) {
                return; // a failed broadcast write closed the sender itself
            }
        }
        c.in.erase(0, pos);
    }

    // Handles one frame; false if the connection was closed.
    bool on_frame(connection& c, bool fin, std::uint8_t opcode, std::string_view data)
    {
        switch (opcode) {
        case 0x1:
        case 0x2:
            if (fin) {
                broadcast(opcode, data);
            } else {
                c.fragments.assign(data);
                c.fragments_opcode = opcode;
            }
            return true;
        case 0x0:
            c.fragments.append(data);
            if (c.fragments.size() > max_message_bytes) {
                close_connection(c);
                return false;
            }
            if (fin) {
                auto const message = std::move(c.fragments);
                c.fragments.clear();
                broadcast(c.fragments_opcode, message);
            }
            return true;
        case 0x8: {
            // Echo the status code and close.
            auto const frame = server_frame(0x8, data.substr(0, std::min<std::size_t>(data.size(), 2)));
            ::send(c.fd, frame.data(), frame.size(), MSG_NOSIGNAL);
            close_connection(c);
            return false;
        }
        case 0x9:
            return send_to(c, server_frame(0xA, data));
        case 0xA:
            return true;
        default:
            close_connection(c);
            return false;
        }
    }

    // The floor's whole job: one frame, one send() per recipient.
    void broadcast(std::uint8_t opcode, std::string_view payload)
    {
        auto const frame = server_frame(opcode, payload);
        // Iterate over a copy of the fd list: a failed send closes (and swap-removes) a connection.
        recipients_.assign(open_.begin(), open_.end());
        for (auto const fd : recipients_) {
            if (auto* c = find(fd)) {
                send_to(*c, frame);
            }
        }
    }

    // Sends now if nothing is queued, else queues; false if the connection was closed.
    bool send_to(connection& c, std::string_view bytes)
    {
        if (!c.out.empty()) {
            if (c.out.size() + bytes.size() > max_pending_bytes) {
                close_connection(c);
                return false;
            }
            c.out.append(bytes);
            return true;
        }
        auto const n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(bytes.size())) {
            return true;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            close_connection(c);
            return false;
        }
        c.out.assign(bytes.substr(n > 0 ? static_cast<std::size_t>(n) : 0));
        if (!c.want_write) {
            c.want_write = true;
            watch(c.fd, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
        }
        return true;
    }

    // Writes queued bytes; false if the connection was closed.
    bool flush(connection& c)
    {
        while (!c.out.empty()) {
            auto const n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out.erase(0, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
                return true;
            }
            close_connection(c);
            return false;
        }
        if (c.want_write) {
            c.want_write = false;
            watch(c.fd, EPOLLIN, EPOLL_CTL_MOD);
        }
        return true;
    }

    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    std::vector<std::unique_ptr<connection>> by_fd_;
    /// Upgraded connections: the broadcast list.
    std::vector<int> open_;
    std::vector<int> recipients_;
};

} // namespace

int main(int argc, char** argv)
{
    std::string host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i < argc; ++i) {
        std::string_view const arg = argv[i];
        if (arg == "--host" && i + 1 < argc) {
            host = argv[++i];
        } else if (arg == "--port" && i + 1 < argc) {
            port = std::strtol(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: stratus-floor-server [--host 127.0.0.1] [--port 0]\n");
            return 2;
        }
    }
    if (port < 0 || port > 65535) {
        std::fprintf(stderr, "floor server: --port must be 0..65535\n");
        return 2;
    }
    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    floor_server server;
    if (!server.listen(host, static_cast<std::uint16_t>(port))) {
        return 1;
    }
    server.run();
    return 0;
}
