#pragma once

#include <string_view>

#include "core/model.hpp"
#include "core/result.hpp"

namespace stratus {

/// Outbound port: turns a bearer token into a verified identity.
class token_verifier {
public:
    virtual ~token_verifier() = default;

    /// Verifies signature, algorithm and claims. Any problem -> errc::unauthorized
    /// with a short reason for the log (never shown to the client in detail).
    [[nodiscard]] virtual result<identity> verify(std::string_view token) = 0;
};

} // namespace stratus
