#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace stratus {

/// Decodes non-empty, unpadded base64url (RFC 7515 §2) in its one canonical
/// form: only [A-Za-z0-9_-], a length that encodes whole bytes, zero unused
/// bits in the last character. Anything else -> nullopt. So every byte string
/// has exactly one accepted spelling.
[[nodiscard]] std::optional<std::string> decode_canonical_base64url(std::string_view text);

/// A compact JWS (RFC 7515 §7.1) split into its three segments and decoded,
/// with nothing parsed or verified yet. Shared by the token verifiers, which
/// then check the signature and parse the JSON themselves.
struct compact_jws {
    /// `header.payload` as sent: the input the signature covers. It points
    /// into the token given to split(), which must outlive it.
    std::string_view signing_input;
    /// The decoded segments (the header and payload are unparsed JSON text).
    std::string header;
    std::string payload;
    std::string signature;

    /// nullopt unless `token` is exactly three non-empty segments of canonical
    /// base64url (see decode_canonical_base64url) separated by two dots.
    [[nodiscard]] static std::optional<compact_jws> split(std::string_view token);
};

} // namespace stratus
