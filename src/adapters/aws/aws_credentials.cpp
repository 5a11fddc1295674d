#include "adapters/aws/aws_credentials.hpp"

#include <cstdlib>

namespace stratus::aws {
namespace {

/// The variable's value; unset and empty are both "absent".
std::string env(char const* name)
{
    char const* value = std::getenv(name);
    return value == nullptr ? std::string{} : std::string(value);
}

} // namespace

result<aws_credentials> credentials_from_environment()
{
    aws_credentials credentials{env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"),
                                env("AWS_SESSION_TOKEN")};
    if (credentials.access_key_id.empty()) {
        return fail(errc::invalid_request, "AWS_ACCESS_KEY_ID is not set");
    }
    if (credentials.secret_access_key.empty()) {
        return fail(errc::invalid_request, "AWS_SECRET_ACCESS_KEY is not set");
    }
    return credentials;
}

result<std::string> region_from_environment()
{
    for (char const* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
        if (auto value = env(name); !value.empty()) {
            return value;
        }
    }
    return fail(errc::invalid_request, "neither AWS_REGION nor AWS_DEFAULT_REGION is set");
}

} // namespace stratus::aws
