// Route tables (the gateway's --routes file, docs/gateway.md) and route
// selection on frame bodies. Input: "<route table JSON>\0<frame body>\0..."
// (without a NUL the table text is also the body). Oracles: a parsed table has
// a non-empty selection path; select() only returns a route the table holds,
// or $default; custom keys never start with '$'.

#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "gateway/route_table.hpp"

namespace {

using stratus::fuzz::expect;
using stratus::gateway::route_table;

void check_select(route_table const& table, std::string_view body)
{
    auto const selected = table.select(body);
    auto const fallback = table.find("$default");
    if (!selected) {
        expect(!fallback.has_value(), "no route only when there is no $default");
        return;
    }
    auto const found = table.find(selected->key);
    expect(found.has_value(), "the selected route is in the table");
    expect(found->integration == selected->integration && found->route_response == selected->route_response,
           "select() and find() agree");
    expect(selected->key == "$default" || selected->key.front() != '$',
           "selection never picks $connect/$disconnect");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size)
{
    auto const parts = stratus::fuzz::split_parts(stratus::fuzz::as_text(data, size));
    auto const table = route_table::parse(parts[0]);
    if (!table) {
        expect(table.error().code == stratus::errc::invalid_request, "a refused table is invalid_request");
        expect(!table.error().detail.empty(), "a refusal says why");
        static auto const builtin = route_table::stratus_default();
        check_select(builtin, parts.size() > 1 ? parts[1] : parts[0]);
        return 0;
    }
    expect(!table->selection_path().empty(), "a table has a selection path");
    for (auto const& segment : table->selection_path()) {
        expect(!segment.empty(), "no empty path segment");
    }
    if (parts.size() == 1) {
        check_select(*table, parts[0]);
    }
    for (std::size_t i = 1; i < parts.size(); ++i) {
        check_select(*table, parts[i]);
    }
    return 0;
}
