#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/aws/http_client.hpp"

namespace stratus::aws {

/// Settings of the HTTP client.
struct http_client_options {
    std::chrono::milliseconds connect_timeout{3000};
    /// Whole request: write plus read of the response. Zero: no limit (the
    /// Lambda Runtime API's long poll for the next event must never time out).
    std::chrono::milliseconds request_timeout{10000};
    /// Idle keep-alive connections kept for reuse.
    std::size_t max_idle_connections = 64;
    /// PEM file of trusted CAs; empty: the system store (SSL_CERT_FILE /
    /// SSL_CERT_DIR, else OpenSSL's default paths).
    std::string ca_file;
};

/// The http_client on Boost.Beast and OpenSSL: HTTP/1.1 with keep-alive
/// connection reuse, connect and request timeouts, and TLS with certificate and
/// host-name verification. Blocking; thread-safe (each call takes its own
/// connection from the pool).
class beast_http_client final : public http_client {
public:
    /// Prepares a client for one endpoint (no connection is made yet).
    /// TLS set-up problems (unreadable CA file) -> errc::invalid_request.
    static result<std::unique_ptr<beast_http_client>> create(endpoint target,
                                                             http_client_options options = {});

    ~beast_http_client() override;
    beast_http_client(beast_http_client const&) = delete;
    beast_http_client& operator=(beast_http_client const&) = delete;

    // http_client
    result<http_response> send(http_request const& request) override;

    /// Connections opened so far (tests use it to prove reuse).
    [[nodiscard]] std::size_t connections_opened() const;

    struct connection;
    struct tls_state;

private:
    beast_http_client(endpoint target, http_client_options options, std::unique_ptr<tls_state> tls);

    result<std::unique_ptr<connection>> open();
    result<http_response> exchange(connection& conn, http_request const& request, bool& nothing_received);

    endpoint target_;
    http_client_options options_;
    std::unique_ptr<tls_state> tls_;

    // This mutex synchronizes idle_ and opened_.
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<connection>> idle_;
    std::size_t opened_ = 0;
};

} // namespace stratus::aws
