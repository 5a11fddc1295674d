#pragma once

#include "core/handler.hpp"
#include "gateway/integration.hpp"

namespace stratus::gateway {

/// Calls the Stratus handler in process, with the same event bytes that Lambda
/// would receive.
class handler_integration final : public integration {
public:
    explicit handler_integration(stratus::handler& handler) : handler_(handler) {}

    // integration
    result<std::string> invoke(std::string const& event_json) override { return handler_.handle(event_json); }

private:
    stratus::handler& handler_;
};

} // namespace stratus::gateway
