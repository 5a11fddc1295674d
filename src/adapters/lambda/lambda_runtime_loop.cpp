#include "adapters/lambda/lambda_runtime_loop.hpp"

#include <exception>
#include <thread>

namespace stratus::lambda {

namespace {

result<std::string> call_guarded(invocation_handler const& handle, invocation const& inv) noexcept
{
    try {
        return handle(inv);
    } catch (std::exception const& e) {
        return fail(errc::internal, std::string("handler threw: ") + e.what());
    } catch (...) {
        return fail(errc::internal, "handler threw an unknown exception");
    }
}

} // namespace

int run_runtime_loop(lambda_runtime_client& client, invocation_handler const& handle, logger& log,
                     runtime_loop_options const& options)
{
    int next_failures = 0;
    std::size_t handled = 0;
    while (!options.max_invocations || handled < *options.max_invocations) {
        auto inv = client.next();
        if (!inv) {
            ++next_failures;
            log.warn("runtime api next failed", inv.error().detail);
            if (next_failures >= options.max_next_failures) {
                log.warn("runtime api", "giving up after " + std::to_string(next_failures) +
                                            " consecutive failures of next");
                return 1;
            }
            std::this_thread::sleep_for(options.retry_delay);
            continue;
        }
        next_failures = 0;
        ++handled;

        auto output = call_guarded(handle, *inv);
        result<void> posted;
        if (output) {
            posted = client.respond(*inv, *output);
            if (!posted && posted.error().code == errc::too_large) {
                posted = client.report_error(*inv, "Function.ResponseSizeTooLarge", posted.error().detail);
            }
        } else {
            posted = client.report_error(*inv, "Runtime.HandlerFailed", output.error().detail);
        }
        if (!posted) {
            log.warn("runtime api post failed", posted.error().detail);
            return 1;
        }
    }
    return 0;
}

} // namespace stratus::lambda
