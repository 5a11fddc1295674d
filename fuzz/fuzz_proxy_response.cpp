// Lambda proxy responses -> parse_proxy_response (how the gateway reads a
// $connect or route answer from the handler or the packaged bootstrap).
// Oracles: parse -> to_json -> parse is exact; and to_json of any response,
// even one holding invalid UTF-8, is JSON the parser accepts.

#include <cstdint>
#include <string>

#include "core/apigw_event.hpp"
#include "fuzz_support.hpp"

namespace {

using stratus::fuzz::expect;

bool same(stratus::proxy_response const& a, stratus::proxy_response const& b)
{
    return a.status_code == b.status_code && a.body == b.body && a.headers == b.headers;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const text = stratus::fuzz::as_text(data, size);
    auto const parsed = stratus::parse_proxy_response(text);
    if (parsed) {
        expect(parsed->status_code >= 100 && parsed->status_code <= 599, "statusCode in 100-599");
        auto const again = stratus::parse_proxy_response(stratus::to_json(*parsed));
        expect(again.has_value(), "to_json output parses");
        expect(same(*parsed, *again), "parse -> to_json -> parse is exact");
    } else {
        expect(parsed.error().code == stratus::errc::invalid_request,
               "a refused response is invalid_request");
    }

    // The other direction: any response the handler could build serialises to
    // parseable JSON (bytes that are not UTF-8 are replaced, never thrown on).
    stratus::proxy_response built;
    built.status_code = 100 + static_cast<int>(size % 500);
    built.body = std::string(text);
    built.headers.emplace_back(std::string(text.substr(0, 16)), std::string(text.substr(size / 2)));
    auto const rendered = stratus::parse_proxy_response(stratus::to_json(built));
    expect(rendered.has_value(), "to_json of any response parses");
    expect(rendered->status_code == built.status_code, "statusCode survives to_json");
    expect(rendered->body.has_value(), "body survives to_json");
    return 0;
}
