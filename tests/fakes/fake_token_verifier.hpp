#pragma once

#include "core/ports/token_verifier.hpp"

namespace stratus::testing {

/// Accepts tokens of the form "user:<id>:<name>"; anything else is unauthorized.
class fake_token_verifier final : public token_verifier {
public:
    result<identity> verify(std::string_view token) override
    {
        if (token.substr(0, 5) != "user:") {
            return fail(errc::unauthorized, "bad token");
        }
        auto const rest = token.substr(5);
        auto const colon = rest.find(':');
        if (colon == std::string_view::npos) {
            return fail(errc::unauthorized, "bad token");
        }
        return identity{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
    }
};

} // namespace stratus::testing
