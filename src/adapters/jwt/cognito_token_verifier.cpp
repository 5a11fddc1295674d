#include "adapters/jwt/cognito_token_verifier.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "adapters/jwt/compact_jws.hpp"
#include "adapters/jwt/hs256_token_verifier.hpp"
#include "adapters/jwt/strict_json.hpp"
#include "core/validation.hpp"

namespace stratus {
namespace {

using json = nlohmann::json;

constexpr int max_header_depth = 4;
constexpr std::int64_t max_numeric_date = hs256_token_verifier::max_numeric_date;
constexpr std::size_t fallback_name_sub_chars = 8;

result<identity> refuse(std::string reason)
{
    return fail(errc::unauthorized, std::move(reason));
}

/// The string claim `name`, or nullptr when absent or not a string.
std::string const* string_claim(json const& object, char const* name)
{
    auto const it = object.find(name);
    if (it == object.end() || !it->is_string()) {
        return nullptr;
    }
    return &it->get_ref<std::string const&>();
}

/// A NumericDate claim as whole seconds in [0, max_numeric_date]; nullopt when
/// present but not one (strings, fractions, negatives, huge values).
/// `present` tells absent from malformed.
std::optional<std::int64_t> numeric_date(json const& payload, char const* claim, bool& present)
{
    auto const it = payload.find(claim);
    present = it != payload.end();
    if (!present) {
        return std::nullopt;
    }
    if (it->is_number_unsigned()) {
        auto const raw = it->get<std::uint64_t>();
        if (raw <= static_cast<std::uint64_t>(max_numeric_date)) {
            return static_cast<std::int64_t>(raw);
        }
    } else if (it->is_number_integer()) {
        auto const value = it->get<std::int64_t>();
        if (value >= 0 && value <= max_numeric_date) {
            return value;
        }
    }
    return std::nullopt;
}

/// The display name rule (see the class comment).
std::string display_name(json const& payload, std::string const& sub)
{
    static constexpr std::array<char const*, 4> candidates = {"preferred_username", "name",
                                                              "cognito:username", "username"};
    for (char const* claim : candidates) {
        if (auto const* value = string_claim(payload, claim); value != nullptr && validate_name(*value)) {
            return *value;
        }
    }
    return "user-" + sub.substr(0, fallback_name_sub_chars);
}

} // namespace

std::string cognito_token_verifier::issuer_for(std::string_view region, std::string_view user_pool_id)
{
    return "https://cognito-idp." + std::string(region) + ".amazonaws.com/" + std::string(user_pool_id);
}

std::string cognito_token_verifier::jwks_url(std::string_view issuer)
{
    return std::string(issuer) + "/.well-known/jwks.json";
}

cognito_token_verifier::cognito_token_verifier(settings config, clock& clock, jwks_fetch fetch_jwks)
    : settings_(std::move(config)), clock_(clock), fetch_jwks_(std::move(fetch_jwks))
{
}

std::size_t cognito_token_verifier::fetch_attempts() const
{
    std::lock_guard<std::mutex> const lock(mutex_);
    return attempts_;
}

result<identity> cognito_token_verifier::verify(std::string_view token)
{
    // nlohmann::json and std::function may throw; nothing may cross the port.
    try {
        return verify_unguarded(token);
    } catch (std::exception const& e) {
        return refuse(std::string("token rejected: ") + e.what());
    } catch (...) {
        return refuse("token rejected: unknown error");
    }
}

result<identity> cognito_token_verifier::verify_unguarded(std::string_view token)
{
    if (settings_.issuer.empty() || settings_.client_ids.empty() || !fetch_jwks_) {
        return refuse("verifier misconfigured: issuer, client ids or JWKS source missing");
    }
    if (token.empty()) {
        return refuse("empty token");
    }
    if (token.size() > max_token_bytes) {
        return refuse("token too large");
    }

    // 1. Shape: header.payload.signature, each canonical base64url.
    auto const jws = compact_jws::split(token);
    if (!jws) {
        return refuse("malformed token");
    }

    // 2. Header: needed (unauthenticated) to pick the key, so kept small and strict.
    if (jws->header.size() > max_header_bytes) {
        return refuse("header too large");
    }
    auto header = parse_strict_json_object(jws->header, max_header_depth, errc::unauthorized, "header");
    if (!header) {
        return fail(header.error().code, header.error().detail);
    }
    auto const* alg = string_claim(*header, "alg");
    if (alg == nullptr || *alg != "RS256") {
        return refuse("algorithm is not RS256");
    }
    if (auto const typ = header->find("typ"); typ != header->end()) {
        if (!typ->is_string() || typ->get_ref<std::string const&>() != "JWT") {
            return refuse("typ is not JWT");
        }
    }
    if (header->contains("crit")) {
        return refuse("unsupported critical header");
    }
    auto const* kid = string_claim(*header, "kid");
    if (kid == nullptr || kid->empty() || kid->size() > jwks::max_kid_chars) {
        return refuse("missing or invalid kid");
    }

    // 3. Signature, RS256 with a key from our JWKS, before the payload is parsed.
    auto const keys = keys_for(*kid);
    if (!keys) {
        return fail(keys.error().code, keys.error().detail);
    }
    if (!(*keys)->verify_rs256(*kid, jws->signing_input, jws->signature)) {
        return refuse("bad signature");
    }

    // 4. Claims (authenticated from here on).
    auto payload =
        parse_strict_json_object(jws->payload, limits::json_max_depth, errc::unauthorized, "payload");
    if (!payload) {
        return fail(payload.error().code, payload.error().detail);
    }
    auto const* iss = string_claim(*payload, "iss");
    if (iss == nullptr || *iss != settings_.issuer) {
        return refuse("wrong issuer");
    }
    bool const id_token = settings_.use == token_use::id;
    auto const* use = string_claim(*payload, "token_use");
    if (use == nullptr || *use != (id_token ? "id" : "access")) {
        return refuse("wrong token_use");
    }
    auto const* client = string_claim(*payload, id_token ? "aud" : "client_id");
    if (client == nullptr || std::find(settings_.client_ids.begin(), settings_.client_ids.end(), *client) ==
                                 settings_.client_ids.end()) {
        return refuse(id_token ? "wrong audience" : "wrong client_id");
    }

    bool present = false;
    auto const exp = numeric_date(*payload, "exp", present);
    if (!exp) {
        return refuse(present ? "exp is not a valid NumericDate" : "missing exp");
    }
    auto const iat = numeric_date(*payload, "iat", present);
    if (!iat) {
        return refuse(present ? "iat is not a valid NumericDate" : "missing iat");
    }
    auto const nbf = numeric_date(*payload, "nbf", present);
    if (present && !nbf) {
        return refuse("nbf is not a valid NumericDate");
    }
    std::int64_t const now_s = clock_.now_ms() / 1000;
    if (now_s >= *exp + leeway_s) {
        return refuse("token expired");
    }
    if (*iat > now_s + leeway_s) {
        return refuse("token issued in the future");
    }
    if (nbf && *nbf > now_s + leeway_s) {
        return refuse("token not yet valid");
    }

    auto const* sub = string_claim(*payload, "sub");
    if (sub == nullptr || !hs256_token_verifier::is_valid_user_id(*sub)) {
        return refuse("missing or invalid sub");
    }
    return identity{*sub, display_name(*payload, *sub)};
}

result<std::shared_ptr<jwks const>> cognito_token_verifier::keys_for(std::string const& kid)
{
    std::unique_lock<std::mutex> lock(mutex_);
    // At most one fetch (ours, or one we waited for) per call: the loop ends.
    bool tried = false;
    for (;;) {
        std::int64_t const now = clock_.now_ms();
        bool const may_fetch = !attempted_ || now - last_attempt_ms_ >= settings_.min_refresh_interval_ms;
        if (keys_ && keys_->contains(kid)) {
            bool const stale = now - keys_loaded_ms_ >= settings_.max_key_age_ms;
            if (stale && may_fetch && !fetching_ && !tried) {
                refresh(lock, now);
                tried = true;
                continue;
            }
            return keys_;
        }
        if (tried) {
            break;
        }
        if (fetching_) {
            // Single flight: use the result of the fetch in progress.
            fetched_.wait(lock, [this] { return !fetching_; });
            tried = true;
            continue;
        }
        if (!may_fetch) {
            break;
        }
        refresh(lock, now);
        tried = true;
    }
    if (!keys_) {
        return fail(errc::unavailable, "signing keys unavailable: " + last_fetch_error_);
    }
    return fail(errc::unauthorized, "unknown kid");
}

void cognito_token_verifier::refresh(std::unique_lock<std::mutex>& lock, std::int64_t now_ms)
{
    fetching_ = true;
    attempted_ = true;
    last_attempt_ms_ = now_ms;
    ++attempts_;
    lock.unlock();

    // Whatever happens below, the lock is held again and waiters are released on exit.
    struct end_of_fetch {
        cognito_token_verifier& self;
        std::unique_lock<std::mutex>& lock;
        ~end_of_fetch()
        {
            if (!lock.owns_lock()) {
                lock.lock();
            }
            self.fetching_ = false;
            self.fetched_.notify_all();
        }
    } const done{*this, lock};

    result<jwks> fetched = fail(errc::internal, "JWKS fetch failed");
    try {
        auto document = fetch_jwks_();
        if (document) {
            fetched = jwks::parse(*document);
        } else {
            fetched = fail(document.error().code, "JWKS fetch failed: " + document.error().detail);
        }
    } catch (std::exception const& e) {
        fetched = fail(errc::internal, std::string("JWKS fetch failed: ") + e.what());
    } catch (...) {
        fetched = fail(errc::internal, "JWKS fetch failed: unknown error");
    }

    lock.lock();
    if (fetched) {
        keys_ = std::make_shared<jwks const>(std::move(*fetched));
        keys_loaded_ms_ = now_ms;
        last_fetch_error_.clear();
    } else {
        last_fetch_error_ = fetched.error().detail;
    }
}

} // namespace stratus
