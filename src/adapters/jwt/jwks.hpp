#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

// OpenSSL's EVP_PKEY, declared here so that OpenSSL headers stay out of ours.
struct evp_pkey_st;

namespace stratus {

/// A JSON Web Key Set (RFC 7517) reduced to what RS256 verification needs: the
/// RSA public keys by `kid`, each held as an OpenSSL 3 EVP_PKEY built from the
/// JWK's `n` and `e` (EVP_PKEY_fromdata). Immutable once parsed; copies share
/// the keys, and concurrent verify_rs256 calls are safe.
///
/// parse() is strict about the document and selective about the keys.
/// The whole document is refused (errc::invalid_request) when it:
/// - is empty or larger than max_document_bytes, nests deeper than
///   max_document_depth, is not JSON, or repeats a member name in any object;
/// - is not an object with a `keys` array of at most max_keys objects;
/// - has two usable keys with the same `kid` (selection would be ambiguous);
/// - has no usable key at all (the detail names the last reason a key was skipped).
/// A key is skipped (see skipped()), not fatal, when it is not for RS256
/// signatures: `kty` != "RSA", `alg` present and != "RS256", `use` present and
/// != "sig", `key_ops` present without "verify"; or when it is unusable: `kid`
/// missing, not a string or not 1-max_kid_chars long; `n`/`e` missing, not
/// canonical base64url, or with leading zero octets (RFC 7518 §6.3.1); a
/// modulus outside [min_modulus_bits, max_modulus_bits]; an exponent that is
/// even, below min_exponent or longer than max_exponent_bytes; OpenSSL refusing
/// the key or its public-key check (EVP_PKEY_public_check). So a broken or weak
/// key only disables the tokens that name it.
class jwks {
public:
    static constexpr std::size_t max_document_bytes = 64 * 1024;
    static constexpr int max_document_depth = 8;
    static constexpr std::size_t max_keys = 32;
    static constexpr std::size_t max_kid_chars = 256;
    static constexpr int min_modulus_bits = 2048;
    /// Bounds the cost of one verification and of parsing the key. OpenSSL's
    /// public-key check took about 190 ms per 8192-bit modulus here (a full
    /// JWKS of them: ~6 s) and takes about 13 ms per 4096-bit one (a full JWKS
    /// of 32: ~0.4 s). Cognito and the other common issuers use 2048-bit keys.
    static constexpr int max_modulus_bits = 4096;
    /// The public exponent: odd, at least 65537 (SP 800-56B), at most 8 octets.
    static constexpr std::uint64_t min_exponent = 65537;
    static constexpr std::size_t max_exponent_bytes = 8;

    /// Errors: invalid_request (see the class comment).
    [[nodiscard]] static result<jwks> parse(std::string_view document);

    /// Number of usable keys (at least one after a successful parse).
    [[nodiscard]] std::size_t size() const noexcept { return keys_.size(); }

    /// True when a usable key has this `kid`.
    [[nodiscard]] bool contains(std::string_view kid) const;

    /// The kids of the usable keys, sorted.
    [[nodiscard]] std::vector<std::string> kids() const;

    /// One short reason per skipped key ("kid abc: modulus below 2048 bits"), for the log.
    [[nodiscard]] std::vector<std::string> const& skipped() const noexcept { return skipped_; }

    /// True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature
    /// (exactly the modulus size) of `signing_input` under the key `kid`.
    /// An unknown kid or any OpenSSL failure -> false.
    [[nodiscard]] bool verify_rs256(std::string_view kid, std::string_view signing_input,
                                    std::string_view signature) const;

private:
    using key_ptr = std::shared_ptr<evp_pkey_st>;

    jwks() = default;

    std::map<std::string, key_ptr, std::less<>> keys_;
    std::vector<std::string> skipped_;
};

} // namespace stratus
