#include "core/handler.hpp"

#include <exception>

#include "core/apigw_event.hpp"

namespace stratus {

handler::handler(chat_service& service) : service_(service) {}

result<std::string> handler::handle(std::string_view event_json) noexcept
{
    try {
        auto event = parse_apigw_event(event_json);
        if (!event) {
            return tl::unexpected(event.error());
        }
        return to_json(service_.handle(*event));
    } catch (std::exception const& e) {
        // Last resort: adapters should not throw, but a bug must not kill the process.
        return fail(errc::internal, std::string("handler failed: ") + e.what());
    } catch (...) {
        return fail(errc::internal, "handler failed with an unknown exception");
    }
}

} // namespace stratus
