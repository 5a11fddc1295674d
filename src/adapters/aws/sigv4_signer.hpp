#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "adapters/aws/aws_credentials.hpp"
#include "adapters/aws/http_message.hpp"

namespace stratus::aws {

/// AWS Signature Version 4 (header signing), checked byte for byte against the
/// official test suite (../shared/vectors/aws-sigv4).
class sigv4_signer {
public:
    sigv4_signer(aws_credentials credentials, std::string region, std::string service);

    /// Signs `request` in place for `host` (the Host header value) at `now`:
    /// adds X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
    /// Authorization. The target must already be percent-encoded as sent.
    void sign(http_request& request, std::string_view host, std::chrono::system_clock::time_point now) const;

    [[nodiscard]] std::string const& region() const { return region_; }
    [[nodiscard]] std::string const& service() const { return service_; }

private:
    aws_credentials credentials_;
    std::string region_;
    std::string service_;
};

} // namespace stratus::aws
