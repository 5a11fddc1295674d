// A Lambda custom runtime for the emulator's tests: our runtime client and loop
// around a handler whose behaviour the payload chooses.
//   "crash"       abort()               "fail"     a function error
//   "sleep:<ms>"  sleep, then echo      "big"      a 7 MB response (413)
//   "env:<NAME>"  the variable's value  "pid"      the process id
//   anything else is echoed back.
// FAKE_RUNTIME_INIT=error reports an init error and exits; =exit exits at once.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "adapters/aws/beast_http_client.hpp"
#include "adapters/lambda/lambda_runtime_client.hpp"
#include "adapters/lambda/lambda_runtime_loop.hpp"
#include "adapters/system/stderr_logger.hpp"

int main()
{
    char const* api = std::getenv("AWS_LAMBDA_RUNTIME_API");
    auto target = stratus::aws::endpoint::parse(std::string("http://") + (api ? api : ""));
    if (!target) {
        return 2;
    }
    stratus::aws::http_client_options options;
    options.request_timeout = std::chrono::milliseconds(0);
    auto http = stratus::aws::beast_http_client::create(*target, options);
    if (!http) {
        return 2;
    }
    stratus::lambda::lambda_runtime_client client(**http);
    std::string const init = std::getenv("FAKE_RUNTIME_INIT") ? std::getenv("FAKE_RUNTIME_INIT") : "";
    if (init == "error") {
        (void)client.report_init_error("Runtime.ConfigurationError", "FAKE_SETTING: not set");
        return 1;
    }
    if (init == "exit") {
        return 3;
    }
    stratus::stderr_logger log;
    return stratus::lambda::run_runtime_loop(
        client,
        [](stratus::lambda::invocation const& inv) -> stratus::result<std::string> {
            auto const& p = inv.payload;
            if (p == "crash") {
                std::abort();
            }
            if (p == "fail") {
                return stratus::fail(stratus::errc::invalid_request, "asked to fail");
            }
            if (p == "big") {
                return std::string(7 * 1024 * 1024, 'x');
            }
            if (p == "pid") {
                return std::to_string(::getpid());
            }
            if (p.starts_with("env:")) {
                char const* value = std::getenv(p.substr(4).c_str());
                return value ? std::string(value) : std::string("<unset>");
            }
            if (p.starts_with("sleep:")) {
                std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(p.substr(6))));
            }
            return p;
        },
        log);
}
