#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/jwt/jwks.hpp"
#include "core/ports/clock.hpp"
#include "core/ports/token_verifier.hpp"

namespace stratus {

/// The token_verifier port for production identity: Amazon Cognito user pool
/// JWTs signed with RS256, verified against the pool's JWKS.
///
/// The verifier, never the token, chooses the algorithm (RFC 8725 §3.1): the
/// signature is always checked as RSASSA-PKCS1-v1_5 SHA-256 with a key from the
/// configured JWKS, and the header must say exactly `"alg":"RS256"`. Checks, in
/// order, each failure -> errc::unauthorized with a short reason (the one
/// exception, errc::unavailable, is under "Keys"):
/// - size <= max_token_bytes, exactly three non-empty segments of canonical
///   base64url (no padding, no `+` `/`, zero trailing bits);
/// - header (the only unauthenticated input that reaches a JSON parser: at most
///   max_header_bytes, nesting <= 4): a JSON object without duplicate keys,
///   `alg` == "RS256", `kid` a string of 1-jwks::max_kid_chars, `typ` absent or
///   "JWT", no `crit`. Other members (`jku`, `jwk`, `x5u`, ...) are ignored:
///   keys only ever come from the JWKS source;
/// - the key `kid` from the cached JWKS (see "Keys" below) and the signature
///   over `header.payload` (exactly the modulus size) before the payload is parsed;
/// - payload: a JSON object without duplicate keys (nesting <= 32); `iss` equal
///   to settings::issuer; `token_use` equal to settings::use ("id" or
///   "access"); for id tokens `aud`, for access tokens `client_id`, a string
///   equal to one of settings::client_ids; integer NumericDates (0 to
///   9999-12-31) `exp` and `iat` (required) and `nbf` (optional) with
///   now < exp + leeway, iat <= now + leeway, nbf <= now + leeway; `sub` 1-64 of
///   [A-Za-z0-9_-] (Cognito subs are UUIDs).
///
/// Identity: user_id = `sub`. name = the first of `preferred_username`, `name`,
/// `cognito:username` (id tokens), `username` (access tokens) that is a string
/// passing validate_name; otherwise "user-" + the first 8 characters of `sub`.
/// `email` is never used: names are shown to other users. Names are display
/// text only (a user may be able to edit `preferred_username`); user_id is the
/// identity.
///
/// Keys: fetched lazily on the first verify, through `fetch_jwks` (an HTTPS GET
/// of jwks_url(issuer) in production). A fetch is attempted again when a
/// token names an unknown kid, or when the keys are older than
/// settings::max_key_age_ms, but never sooner than settings::min_refresh_interval_ms
/// after the previous attempt (successful or not), so a flood of bogus kids
/// cannot hammer the endpoint. A fetched document replaces the cached set only
/// if it parses (jwks::parse); otherwise the old keys stay in use. A token whose
/// key cannot be found -> errc::unauthorized ("unknown kid"), except while no
/// JWKS has ever been loaded, which -> errc::unavailable ("signing keys
/// unavailable: ...") so that the log and the handler can tell an outage from a
/// bad token (today chat_service answers 401 to both).
///
/// Thread-safe. The mutex guards only the cache bookkeeping; the fetch runs
/// without it, and at most one fetch is in flight (single flight). A verify
/// that needs the fetch's result (no keys yet, or an unknown kid) waits for it.
/// A max-age refresh is run by the verify that finds the keys stale; meanwhile
/// verifies with a known kid use the old keys and do not wait. Time comes from
/// the injected clock only.
class cognito_token_verifier final : public token_verifier {
public:
    static constexpr std::size_t max_token_bytes = 8 * 1024;
    static constexpr std::size_t max_header_bytes = 1024;
    static constexpr std::int64_t leeway_s = 60;

    /// Which Cognito token is accepted at $connect.
    enum class token_use { id, access };

    /// Returns the JWKS document text; any errc may be returned (its detail
    /// shows up in the unavailable error while no keys were ever loaded).
    /// Called from whichever thread needs the keys, never concurrently by one
    /// verifier, and never with the verifier's mutex held; it must not call
    /// back into the verifier. Exceptions are caught and count as failures.
    using jwks_fetch = std::function<result<std::string>()>;

    struct settings {
        /// "https://cognito-idp.<region>.amazonaws.com/<userPoolId>"; see issuer_for().
        std::string issuer;
        /// App client ids whose tokens are accepted (`aud` / `client_id`).
        std::vector<std::string> client_ids;
        token_use use = token_use::id;
        /// Minimum time between two JWKS fetch attempts.
        std::int64_t min_refresh_interval_ms = 60'000;
        /// Keys older than this are refreshed on the next verify (removed keys
        /// stop working); the old keys keep working if that fetch fails.
        std::int64_t max_key_age_ms = 3'600'000;
    };

    /// The issuer of a user pool: "https://cognito-idp.<region>.amazonaws.com/<user_pool_id>".
    [[nodiscard]] static std::string issuer_for(std::string_view region, std::string_view user_pool_id);

    /// Where the pool publishes its keys: issuer + "/.well-known/jwks.json".
    [[nodiscard]] static std::string jwks_url(std::string_view issuer);

    /// `clock` must outlive the verifier. An empty issuer or client id list
    /// makes every token fail (errc::unauthorized, "verifier misconfigured").
    cognito_token_verifier(settings config, clock& clock, jwks_fetch fetch_jwks);

    // token_verifier
    [[nodiscard]] result<identity> verify(std::string_view token) override;

    /// Fetch attempts so far (for tests and metrics).
    [[nodiscard]] std::size_t fetch_attempts() const;

private:
    [[nodiscard]] result<identity> verify_unguarded(std::string_view token);

    /// The key set to verify a token with key `kid`, fetching as the rules allow.
    [[nodiscard]] result<std::shared_ptr<jwks const>> keys_for(std::string const& kid);

    /// Runs one fetch (without the mutex) and installs its keys if they parse.
    void refresh(std::unique_lock<std::mutex>& lock, std::int64_t now_ms);

    settings settings_;
    clock& clock_;
    jwks_fetch fetch_jwks_;

    // This mutex synchronizes every member below.
    mutable std::mutex mutex_;
    /// Signalled when a fetch finishes.
    std::condition_variable fetched_;
    std::shared_ptr<jwks const> keys_;
    std::int64_t keys_loaded_ms_ = 0;
    std::int64_t last_attempt_ms_ = 0;
    bool attempted_ = false;
    bool fetching_ = false;
    std::size_t attempts_ = 0;
    /// Why the last fetch failed ("" after a success), for the unavailable detail.
    std::string last_fetch_error_;
};

} // namespace stratus
