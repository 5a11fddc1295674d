#pragma once

#include <string>
#include <string_view>

#include "core/chat_service.hpp"
#include "core/result.hpp"

namespace stratus {

/// The Lambda-shaped entry point: event JSON in, proxy response JSON out.
/// The gateway calls it in process; the `bootstrap` calls it per invocation.
class handler {
public:
    explicit handler(chat_service& service);

    /// Handles one event. A failure (malformed event, unexpected exception) is
    /// what Lambda reports as a function error; API Gateway then sends the
    /// client {"message": "Internal server error", ...}.
    [[nodiscard]] result<std::string> handle(std::string_view event_json) noexcept;

private:
    chat_service& service_;
};

} // namespace stratus
