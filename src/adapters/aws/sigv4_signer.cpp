#include "adapters/aws/sigv4_signer.hpp"

#include <utility>

#include "adapters/aws/sigv4_canonical.hpp"

namespace stratus::aws {

sigv4_signer::sigv4_signer(aws_credentials credentials, std::string region, std::string service)
    : credentials_(std::move(credentials)), region_(std::move(region)), service_(std::move(service))
{
}

void sigv4_signer::sign(http_request& request, std::string_view host,
                        std::chrono::system_clock::time_point now) const
{
    // The signed host must be the one sent: set it (or replace a stale one) first.
    request.set_header("Host", std::string(host));

    // S3 signs the wire path as is; every other service normalizes and encodes it again.
    bool const s3 = service_ == "s3";
    sigv4_context context{credentials_, region_, service_, sigv4_canonical::amz_date(now), !s3, !s3, false};
    auto signed_request = sigv4_canonical::sign_headers(
        sigv4_request_view{request.method, request.target, request.headers, request.body}, context);

    // Replaces the headers of an earlier signature, so signing twice is harmless.
    for (auto& [name, value] : signed_request.added_headers) {
        request.set_header(std::move(name), std::move(value));
    }
}

} // namespace stratus::aws
