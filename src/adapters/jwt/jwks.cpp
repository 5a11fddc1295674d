#include "adapters/jwt/jwks.hpp"

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/strict_json.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

// RAII for the OpenSSL objects used while building a key.
struct bn_free {
    void operator()(BIGNUM* bn) const noexcept { BN_free(bn); }
};
struct param_bld_free {
    void operator()(OSSL_PARAM_BLD* bld) const noexcept { OSSL_PARAM_BLD_free(bld); }
};
struct param_free {
    void operator()(OSSL_PARAM* params) const noexcept { OSSL_PARAM_free(params); }
};
struct pkey_ctx_free {
    void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
struct md_ctx_free {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using bn_ptr = std::unique_ptr<BIGNUM, bn_free>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, param_bld_free>;
using param_ptr = std::unique_ptr<OSSL_PARAM, param_free>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;

unsigned char const* bytes_of(std::string_view text) noexcept
{
    return reinterpret_cast<unsigned char const*>(text.data());
}

/// Number of significant bits of a big-endian unsigned integer without leading zero octets.
std::size_t bit_length(std::string_view big_endian) noexcept
{
    if (big_endian.empty()) {
        return 0;
    }
    auto top = static_cast<unsigned char>(big_endian.front());
    std::size_t bits = (big_endian.size() - 1) * 8;
    while (top != 0) {
        ++bits;
        top = static_cast<unsigned char>(top >> 1);
    }
    return bits;
}

/// The string member `name`, or nullopt when absent or not a string.
std::optional<std::string> string_member(json const& object, char const* name)
{
    auto const it = object.find(name);
    if (it == object.end() || !it->is_string()) {
        return std::nullopt;
    }
    return it->get<std::string>();
}

/// Why the JWK `key` is not an RS256 signing key, or "" when it is one.
std::string not_for_rs256(json const& key)
{
    if (string_member(key, "kty") != "RSA") {
        return "kty is not RSA";
    }
    if (key.contains("alg") && string_member(key, "alg") != "RS256") {
        return "alg is not RS256";
    }
    if (key.contains("use") && string_member(key, "use") != "sig") {
        return "use is not sig";
    }
    if (auto const ops = key.find("key_ops"); ops != key.end()) {
        bool verify = false;
        if (ops->is_array()) {
            for (auto const& op : *ops) {
                verify = verify || (op.is_string() && op.get_ref<std::string const&>() == "verify");
            }
        }
        if (!verify) {
            return "key_ops lacks verify";
        }
    }
    return {};
}

/// Builds the RSA public key (n, e) after checking the JWK rules; errors are skip reasons.
result<std::shared_ptr<evp_pkey_st>> build_rsa_key(json const& key)
{
    auto const n_text = string_member(key, "n");
    auto const e_text = string_member(key, "e");
    if (!n_text || !e_text) {
        return fail(errc::invalid_request, "n or e missing");
    }
    auto const n = decode_canonical_base64url(*n_text);
    auto const e = decode_canonical_base64url(*e_text);
    if (!n || !e) {
        return fail(errc::invalid_request, "n or e is not canonical base64url");
    }
    if (n->front() == '\0' || e->front() == '\0') {
        return fail(errc::invalid_request, "n or e has leading zero octets");
    }
    auto const modulus_bits = bit_length(*n);
    if (modulus_bits < static_cast<std::size_t>(jwks::min_modulus_bits)) {
        return fail(errc::invalid_request,
                    "modulus below " + std::to_string(jwks::min_modulus_bits) + " bits");
    }
    if (modulus_bits > static_cast<std::size_t>(jwks::max_modulus_bits)) {
        return fail(errc::invalid_request,
                    "modulus above " + std::to_string(jwks::max_modulus_bits) + " bits");
    }
    if ((static_cast<unsigned char>(n->back()) & 1U) == 0) {
        return fail(errc::invalid_request, "modulus is even");
    }
    if (e->size() > jwks::max_exponent_bytes) {
        return fail(errc::invalid_request, "exponent too long");
    }
    std::uint64_t exponent = 0;
    for (char byte : *e) {
        exponent = (exponent << 8) | static_cast<unsigned char>(byte);
    }
    if (exponent < jwks::min_exponent || (exponent & 1U) == 0) {
        return fail(errc::invalid_request, "exponent is even or below 65537");
    }

    bn_ptr const n_bn{BN_bin2bn(bytes_of(*n), static_cast<int>(n->size()), nullptr)};
    bn_ptr const e_bn{BN_bin2bn(bytes_of(*e), static_cast<int>(e->size()), nullptr)};
    param_bld_ptr const builder{OSSL_PARAM_BLD_new()};
    if (!n_bn || !e_bn || !builder ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
        return fail(errc::invalid_request, "OpenSSL cannot hold the key");
    }
    param_ptr const params{OSSL_PARAM_BLD_to_param(builder.get())};
    pkey_ctx_ptr const ctx{EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)};
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
        return fail(errc::invalid_request, "OpenSSL refused the key");
    }
    std::shared_ptr<evp_pkey_st> pkey(raw, EVP_PKEY_free);
    if (EVP_PKEY_get_bits(pkey.get()) != static_cast<int>(modulus_bits)) {
        return fail(errc::invalid_request, "OpenSSL disagrees on the modulus size");
    }
    // OpenSSL's public-key validation (SP 800-56B: odd n that is not a prime
    // power and has no small factors, odd e with 2^16 < e < 2^256).
    pkey_ctx_ptr const check{EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr)};
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        return fail(errc::invalid_request, "OpenSSL public key check failed");
    }
    return pkey;
}

} // namespace

result<jwks> jwks::parse(std::string_view document)
{
    try {
        if (document.empty() || document.size() > max_document_bytes) {
            return fail(errc::invalid_request, "JWKS is empty or larger than 64 KiB");
        }
        auto parsed = parse_strict_json_object(document, max_document_depth, errc::invalid_request, "JWKS");
        if (!parsed) {
            return fail(parsed.error().code, parsed.error().detail);
        }
        auto const keys = parsed->find("keys");
        if (keys == parsed->end() || !keys->is_array()) {
            return fail(errc::invalid_request, "JWKS has no keys array");
        }
        if (keys->size() > max_keys) {
            return fail(errc::invalid_request, "JWKS has more than " + std::to_string(max_keys) + " keys");
        }

        jwks set;
        for (auto const& key : *keys) {
            if (!key.is_object()) {
                return fail(errc::invalid_request, "JWKS key is not a JSON object");
            }
            auto const kid = string_member(key, "kid");
            std::string const label = kid ? "kid " + kid->substr(0, 64) : std::string("key without kid");
            if (auto const reason = not_for_rs256(key); !reason.empty()) {
                set.skipped_.push_back(label + ": " + reason);
                continue;
            }
            if (!kid || kid->empty() || kid->size() > max_kid_chars) {
                set.skipped_.push_back(label + ": kid missing, not a string or too long");
                continue;
            }
            auto pkey = build_rsa_key(key);
            if (!pkey) {
                set.skipped_.push_back(label + ": " + pkey.error().detail);
                continue;
            }
            if (set.keys_.count(*kid) != 0) {
                return fail(errc::invalid_request, "JWKS has two keys with " + label);
            }
            set.keys_.emplace(*kid, std::move(*pkey));
        }
        ERR_clear_error();
        if (set.keys_.empty()) {
            return fail(errc::invalid_request,
                        set.skipped_.empty() ? "JWKS has no keys"
                                             : "JWKS has no usable RS256 key (" + set.skipped_.back() + ")");
        }
        return set;
    } catch (std::exception const& e) {
        ERR_clear_error();
        return fail(errc::invalid_request, std::string("JWKS rejected: ") + e.what());
    }
}

bool jwks::contains(std::string_view kid) const
{
    return keys_.find(kid) != keys_.end();
}

std::vector<std::string> jwks::kids() const
{
    std::vector<std::string> out;
    out.reserve(keys_.size());
    for (auto const& [kid, key] : keys_) {
        out.push_back(kid);
    }
    return out;
}

bool jwks::verify_rs256(std::string_view kid, std::string_view signing_input,
                        std::string_view signature) const
{
    auto const it = keys_.find(kid);
    if (it == keys_.end()) {
        return false;
    }
    EVP_PKEY* const pkey = it->second.get();
    if (signature.empty() || signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(pkey))) {
        return false;
    }
    md_ctx_ptr const ctx{EVP_MD_CTX_new()};
    EVP_PKEY_CTX* pctx = nullptr; // owned by ctx
    bool const ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) == 1 &&
                    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
                    EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(),
                                     bytes_of(signing_input), signing_input.size()) == 1;
    if (!ok) {
        // Leave nothing on this thread's error queue for unrelated OpenSSL users (TLS).
        ERR_clear_error();
    }
    return ok;
}

} // namespace stratus
