#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

namespace stratus::cost {

/// DynamoDB's documented sizing and capacity rules (on-demand, standard table
/// class), as the cost model applies them to what the store sends and reads:
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
/// and .../read-write-operations.html.
namespace capacity_rules {

/// Size in bytes of one item in the JSON protocol's form ({"name": {"S": ...}, ...}):
/// attribute names (UTF-8 bytes) plus values. S: UTF-8 bytes; N: 1 byte per two
/// significant digits + 1; B: decoded bytes; BOOL/NULL: 1; sets: sum of the
/// elements; L/M: 3 bytes + 1 byte per element + the elements.
[[nodiscard]] std::uint64_t item_size(nlohmann::json const& item);

/// Size of one attribute value (without its name).
[[nodiscard]] std::uint64_t value_size(nlohmann::json const& value);

/// Write request units for an item of `bytes`: 1 per started KB (at least 1),
/// doubled inside a transaction.
[[nodiscard]] double write_units(std::uint64_t bytes, bool transactional);

/// Read request units for `bytes` read in one request (GetItem: one item;
/// Query: the sum of the items evaluated): 1 per started 4 KB (at least 1) when
/// strongly consistent, half of that when eventually consistent, doubled inside
/// a transaction.
[[nodiscard]] double read_units(std::uint64_t bytes, bool consistent, bool transactional = false);

} // namespace capacity_rules
} // namespace stratus::cost
