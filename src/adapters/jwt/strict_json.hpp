#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.hpp"

namespace stratus {

/// Parses `text` as one JSON object, strictly enough for input an attacker may
/// have written (a JOSE header, JWT claims, a JWKS document). Refusals, in
/// order, each -> `code` with a detail that starts with `what`:
/// - "<what> nests too deeply or holds NUL": arrays/objects nested deeper than
///   `max_depth`, or a NUL byte (see unsafe_json_text); checked before any
///   parsing, so hostile nesting never reaches the recursive parser;
/// - "<what> is not valid JSON";
/// - "<what> has duplicate member names", in any object at any depth (RFC 7515
///   §5.2 allows refusing them; picking one lets an attacker pick);
/// - "<what> is not a JSON object": valid JSON of another type.
/// nlohmann/json stays an implementation detail of the jwt adapter: only its
/// .cpp files (and their tests) include this header.
[[nodiscard]] result<nlohmann::json> parse_strict_json_object(std::string_view text, int max_depth, errc code,
                                                              std::string_view what);

} // namespace stratus
