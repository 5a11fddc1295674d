#include "adapters/aws/sigv4_canonical.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <map>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace stratus::aws {
namespace {

constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

char to_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), to_lower);
    return out;
}

bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/// Header whitespace: obs-fold line breaks count as whitespace too.
bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/// RFC 3986 percent-decoding ('+' stays '+'); a malformed escape stays literal.
std::string percent_decode(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int const high = hex_value(text[i + 1]);
            int const low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out.push_back(static_cast<char>(high * 16 + low));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

std::string to_hex(unsigned char const* bytes, std::size_t size)
{
    constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(2 * size);
    for (std::size_t i = 0; i < size; ++i) {
        out.push_back(digits[bytes[i] >> 4U]);
        out.push_back(digits[bytes[i] & 0x0FU]);
    }
    return out;
}

/// Raw HMAC-SHA256. OpenSSL only fails here on allocation failure; the result is
/// then empty, which yields a signature AWS rejects rather than a wrong one.
std::string hmac_sha256(std::string_view key, std::string_view data)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<unsigned char const*>(data.data()), data.size(), digest.data(),
             &size) == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<char const*>(digest.data()), size);
}

/// botocore's remove_dot_segments (smithy's is the same): drops empty and "."
/// segments, ".." pops one, keeps the leading and (if anything is left) trailing '/'.
std::string normalize_path(std::string_view path)
{
    std::vector<std::string_view> segments;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto const slash = path.find('/', start);
        auto const end = slash == std::string_view::npos ? path.size() : slash;
        auto const segment = path.substr(start, end - start);
        if (segment == "..") {
            if (!segments.empty()) {
                segments.pop_back();
            }
        } else if (!segment.empty() && segment != ".") {
            segments.push_back(segment);
        }
        start = end + 1;
    }
    std::string out = path.starts_with('/') ? "/" : "";
    for (std::size_t i = 0; i < segments.size(); ++i) {
        out += (i == 0 ? "" : "/");
        out += segments[i];
    }
    if (path.ends_with('/') && !segments.empty()) {
        out += '/';
    }
    return out.empty() ? "/" : out;
}

/// Trims and collapses whitespace runs to one space.
std::string canonical_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    bool pending_space = false;
    for (char c : value) {
        if (is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c);
    }
    return out;
}

/// Lower-case name -> canonical values joined with ',' in order; signable headers only.
std::map<std::string, std::string> group_headers(std::span<sigv4_header const> headers)
{
    std::map<std::string, std::string> grouped;
    for (auto const& [name, value] : headers) {
        auto key = lower(name);
        if (!sigv4_canonical::is_signable(key)) {
            continue;
        }
        auto [it, inserted] = grouped.try_emplace(std::move(key));
        if (!inserted) {
            it->second.push_back(',');
        }
        it->second += canonical_value(value);
    }
    return grouped;
}

/// The request's headers minus those this signature generates (it replaces them).
std::vector<sigv4_header> headers_without_generated(std::span<sigv4_header const> headers, bool has_token)
{
    std::vector<sigv4_header> kept;
    kept.reserve(headers.size() + 2);
    for (auto const& header : headers) {
        auto const name = lower(header.first);
        if (name == "authorization" || name == "x-amz-date" ||
            (has_token && name == "x-amz-security-token")) {
            continue;
        }
        kept.push_back(header);
    }
    return kept;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target)
{
    auto const question = target.find('?');
    if (question == std::string_view::npos) {
        return {target, {}};
    }
    return {target.substr(0, question), target.substr(question + 1)};
}

} // namespace

sigv4_signature sigv4_canonical::sign_headers(sigv4_request_view const& request, sigv4_context const& context)
{
    auto const& token = context.credentials.session_token;
    auto to_sign = headers_without_generated(request.headers, !token.empty());
    if (!token.empty() && !context.omit_session_token) {
        to_sign.emplace_back("X-Amz-Security-Token", token);
    }
    to_sign.emplace_back("X-Amz-Date", context.amz_date);

    sigv4_signature out;
    out.signed_headers = signed_headers(to_sign);
    out.canonical_request = canonical_request(request.method, request.target, to_sign,
                                              payload_hash(request.headers, request.body),
                                              context.normalize_path, context.double_encode_path);
    auto const scope = credential_scope(context.amz_date, context.region, context.service);
    out.string_to_sign = string_to_sign(context.amz_date, scope, out.canonical_request);
    out.signature = signature(signing_key(context.credentials.secret_access_key,
                                          context.amz_date.substr(0, 8), context.region, context.service),
                              out.string_to_sign);
    out.authorization =
        authorization(context.credentials.access_key_id, scope, out.signed_headers, out.signature);

    // Same order as the official suite's signed requests.
    if (!token.empty()) {
        out.added_headers.emplace_back("X-Amz-Security-Token", token);
    }
    out.added_headers.emplace_back("X-Amz-Date", context.amz_date);
    out.added_headers.emplace_back("Authorization", out.authorization);
    return out;
}

sigv4_signature sigv4_canonical::sign_query(sigv4_request_view const& request, sigv4_context const& context,
                                            int expires_seconds)
{
    auto const& token = context.credentials.session_token;
    auto const to_sign = headers_without_generated(request.headers, !token.empty());
    auto const scope = credential_scope(context.amz_date, context.region, context.service);

    sigv4_signature out;
    out.signed_headers = signed_headers(to_sign);

    // The X-Amz-* parameters in the suite's order; the token is signed unless omitted.
    std::string params = "X-Amz-Algorithm=" + std::string(algorithm);
    params += "&X-Amz-Credential=" + uri_encode(context.credentials.access_key_id + "/" + scope, false);
    params += "&X-Amz-Date=" + context.amz_date;
    params += "&X-Amz-SignedHeaders=" + uri_encode(out.signed_headers, false);
    params += "&X-Amz-Expires=" + std::to_string(expires_seconds);
    std::string const token_param = token.empty() ? "" : "&X-Amz-Security-Token=" + uri_encode(token, false);

    auto const [path, query] = split_target(request.target);
    std::string const signed_params = params + (context.omit_session_token ? "" : token_param);
    std::string const signed_target =
        std::string(path) + "?" + (query.empty() ? "" : std::string(query) + "&") + signed_params;

    out.canonical_request =
        canonical_request(request.method, signed_target, to_sign, payload_hash(request.headers, request.body),
                          context.normalize_path, context.double_encode_path);
    out.string_to_sign = string_to_sign(context.amz_date, scope, out.canonical_request);
    out.signature = signature(signing_key(context.credentials.secret_access_key,
                                          context.amz_date.substr(0, 8), context.region, context.service),
                              out.string_to_sign);

    // Keep the caller's target byte for byte and append the parameters.
    char const separator =
        request.target.find('?') == std::string_view::npos ? '?' : (query.empty() ? '\0' : '&');
    out.presigned_target = std::string(request.target);
    if (separator != '\0') {
        out.presigned_target.push_back(separator);
    }
    out.presigned_target += params + token_param + "&X-Amz-Signature=" + out.signature;
    return out;
}

std::string sigv4_canonical::canonical_request(std::string_view method, std::string_view target,
                                               std::span<sigv4_header const> headers,
                                               std::string_view payload_hash, bool normalize_path,
                                               bool double_encode_path)
{
    auto const [path, query] = split_target(target);
    std::string out(method);
    out += '\n';
    out += canonical_uri(path, normalize_path, double_encode_path);
    out += '\n';
    out += canonical_query(query);
    out += '\n';
    out += canonical_headers(headers); // ends with '\n': the blank line below is intended
    out += '\n';
    out += signed_headers(headers);
    out += '\n';
    out += payload_hash;
    return out;
}

std::string sigv4_canonical::canonical_uri(std::string_view raw_path, bool normalize_path_flag,
                                           bool double_encode_path)
{
    std::string path = normalize_path_flag ? normalize_path(raw_path) : std::string(raw_path);
    if (path.empty()) {
        path = "/";
    }
    // The wire path is already encoded once; encoding it again is what AWS
    // expects for every service but S3 ("%3D" -> "%253D").
    return double_encode_path ? uri_encode(path, true) : path;
}

std::string sigv4_canonical::canonical_query(std::string_view raw_query)
{
    std::vector<std::pair<std::string, std::string>> pairs;
    std::size_t start = 0;
    while (start <= raw_query.size()) {
        auto const amp = raw_query.find('&', start);
        auto const end = amp == std::string_view::npos ? raw_query.size() : amp;
        auto const part = raw_query.substr(start, end - start);
        start = end + 1;
        if (part.empty()) {
            continue;
        }
        auto const equals = part.find('=');
        auto const key = part.substr(0, equals);
        auto const value = equals == std::string_view::npos ? std::string_view{} : part.substr(equals + 1);
        pairs.emplace_back(uri_encode(percent_decode(key), false), uri_encode(percent_decode(value), false));
    }
    std::sort(pairs.begin(), pairs.end());
    std::string out;
    for (auto const& [key, value] : pairs) {
        if (!out.empty()) {
            out += '&';
        }
        out += key;
        out += '=';
        out += value;
    }
    return out;
}

std::string sigv4_canonical::canonical_headers(std::span<sigv4_header const> headers)
{
    std::string out;
    for (auto const& [name, value] : group_headers(headers)) {
        out += name;
        out += ':';
        out += value;
        out += '\n';
    }
    return out;
}

std::string sigv4_canonical::signed_headers(std::span<sigv4_header const> headers)
{
    std::string out;
    for (auto const& entry : group_headers(headers)) {
        if (!out.empty()) {
            out += ';';
        }
        out += entry.first;
    }
    return out;
}

bool sigv4_canonical::is_signable(std::string_view lower_name)
{
    // @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS (a superset of botocore's list).
    static constexpr std::array<std::string_view, 15> unsignable = {
        "authorization", "cache-control",     "connection", "expect",     "from",
        "keep-alive",    "max-forwards",      "pragma",     "referer",    "te",
        "trailer",       "transfer-encoding", "upgrade",    "user-agent", "x-amzn-trace-id"};
    if (lower_name.starts_with("proxy-") || lower_name.starts_with("sec-")) {
        return false;
    }
    return std::find(unsignable.begin(), unsignable.end(), lower_name) == unsignable.end();
}

std::string sigv4_canonical::payload_hash(std::span<sigv4_header const> headers, std::string_view body)
{
    for (auto const& [name, value] : headers) {
        if (lower(name) == "x-amz-content-sha256") {
            return value;
        }
    }
    return body.empty() ? std::string(empty_sha256) : hex_sha256(body);
}

std::string sigv4_canonical::credential_scope(std::string_view amz_date, std::string_view region,
                                              std::string_view service)
{
    std::string out(amz_date.substr(0, 8));
    out += '/';
    out += region;
    out += '/';
    out += service;
    out += "/aws4_request";
    return out;
}

std::string sigv4_canonical::string_to_sign(std::string_view amz_date, std::string_view scope,
                                            std::string_view canonical_request)
{
    std::string out(algorithm);
    out += '\n';
    out += amz_date;
    out += '\n';
    out += scope;
    out += '\n';
    out += hex_sha256(canonical_request);
    return out;
}

std::string sigv4_canonical::signing_key(std::string_view secret_access_key, std::string_view date,
                                         std::string_view region, std::string_view service)
{
    auto const k_date = hmac_sha256("AWS4" + std::string(secret_access_key), date);
    auto const k_region = hmac_sha256(k_date, region);
    auto const k_service = hmac_sha256(k_region, service);
    return hmac_sha256(k_service, "aws4_request");
}

std::string sigv4_canonical::signature(std::string_view signing_key, std::string_view string_to_sign)
{
    auto const mac = hmac_sha256(signing_key, string_to_sign);
    return to_hex(reinterpret_cast<unsigned char const*>(mac.data()), mac.size());
}

std::string sigv4_canonical::authorization(std::string_view access_key_id, std::string_view scope,
                                           std::string_view signed_headers, std::string_view signature)
{
    std::string out(algorithm);
    out += " Credential=";
    out += access_key_id;
    out += '/';
    out += scope;
    out += ", SignedHeaders=";
    out += signed_headers;
    out += ", Signature=";
    out += signature;
    return out;
}

std::string sigv4_canonical::uri_encode(std::string_view bytes, bool keep_slash)
{
    constexpr std::string_view digits = "0123456789ABCDEF";
    std::string out;
    out.reserve(bytes.size());
    for (char c : bytes) {
        auto const byte = static_cast<unsigned char>(c);
        if (is_unreserved(byte) || (keep_slash && c == '/')) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(digits[byte >> 4U]);
            out.push_back(digits[byte & 0x0FU]);
        }
    }
    return out;
}

std::string sigv4_canonical::hex_sha256(std::string_view data)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
        return {}; // allocation failure only; see hmac_sha256
    }
    return to_hex(digest.data(), size);
}

std::string sigv4_canonical::amz_date(std::chrono::system_clock::time_point now)
{
    using namespace std::chrono;
    auto const seconds_now = floor<seconds>(now);
    auto const day = floor<days>(seconds_now);
    year_month_day const date{day};
    hh_mm_ss const time{seconds_now - day};
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return text.data();
}

std::optional<std::chrono::system_clock::time_point> sigv4_canonical::parse_amz_date(std::string_view text)
{
    using namespace std::chrono;
    if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') {
        return std::nullopt;
    }
    auto number = [&](std::size_t offset, std::size_t length) -> std::optional<int> {
        int value = 0;
        auto const* first = text.data() + offset;
        auto const* last = first + length;
        if (!std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; })) {
            return std::nullopt;
        }
        std::from_chars(first, last, value);
        return value;
    };
    auto const y = number(0, 4);
    auto const mo = number(4, 2);
    auto const d = number(6, 2);
    auto const h = number(9, 2);
    auto const mi = number(11, 2);
    auto const s = number(13, 2);
    if (!y || !mo || !d || !h || !mi || !s || *h > 23 || *mi > 59 || *s > 59) {
        return std::nullopt;
    }
    year_month_day const date{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
    if (!date.ok()) {
        return std::nullopt;
    }
    return system_clock::time_point{sys_days{date} + hours{*h} + minutes{*mi} + seconds{*s}};
}

} // namespace stratus::aws
