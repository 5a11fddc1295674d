#pragma once

#include <string>

#include "core/result.hpp"

namespace stratus::aws {

/// AWS credentials; the session token is set for temporary credentials (Lambda).
struct aws_credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;
};

/// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (optional).
/// Missing or empty key id / secret -> errc::invalid_request naming the variable.
[[nodiscard]] result<aws_credentials> credentials_from_environment();

/// AWS_REGION, else AWS_DEFAULT_REGION; neither -> errc::invalid_request.
[[nodiscard]] result<std::string> region_from_environment();

} // namespace stratus::aws
