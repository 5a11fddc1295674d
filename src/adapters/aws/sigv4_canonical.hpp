#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapters/aws/aws_credentials.hpp"

namespace stratus::aws {

/// One header as sent: name in its wire case, raw value (obs-fold line breaks allowed).
using sigv4_header = std::pair<std::string, std::string>;

/// The request being signed, exactly as it goes on the wire. Views: they must
/// outlive the call they are passed to.
struct sigv4_request_view {
    std::string_view method;
    std::string_view target; ///< raw path[?query], already percent-encoded as sent
    std::span<sigv4_header const> headers;
    std::string_view body;
};

/// Who signs, for which scope and when.
struct sigv4_context {
    aws_credentials credentials;
    std::string region;
    std::string service;
    std::string amz_date;           ///< yyyyMMddTHHmmssZ (UTC)
    bool normalize_path = true;     ///< remove dot segments and `//` (every service but S3)
    bool double_encode_path = true; ///< URI-encode the wire path again (every service but S3)
    /// Add the session token after signing, unsigned (AWS IoT; the test suite's post-sts-header-after).
    bool omit_session_token = false;
};

/// Every intermediate step of one signature, so each can be checked on its own.
struct sigv4_signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;      ///< 64 lower-case hex digits
    std::string signed_headers; ///< "host;x-amz-date"
    /// Header signing: the value of the Authorization header. Query signing: empty.
    std::string authorization;
    /// Header signing: headers to set, in this order (X-Amz-Security-Token,
    /// X-Amz-Date, Authorization). Query signing: empty.
    std::vector<sigv4_header> added_headers;
    /// Query signing: the pre-signed target (raw target plus the X-Amz-* parameters
    /// and X-Amz-Signature). Header signing: empty.
    std::string presigned_target;
};

/// AWS Signature Version 4 as pure functions of their inputs (no clock, no
/// environment), step by step. `sigv4_signer` is the production entry point;
/// this class exists so that each step is testable against the official vectors.
class sigv4_canonical {
public:
    /// Signs with an Authorization header. Existing Authorization and X-Amz-Date
    /// headers (and X-Amz-Security-Token when the credentials carry a token) are
    /// ignored: they are the ones this signature replaces.
    [[nodiscard]] static sigv4_signature sign_headers(sigv4_request_view const& request,
                                                      sigv4_context const& context);

    /// Pre-signs the URL (X-Amz-* query parameters) for `expires_seconds`.
    [[nodiscard]] static sigv4_signature sign_query(sigv4_request_view const& request,
                                                    sigv4_context const& context, int expires_seconds);

    /// Method\nCanonicalURI\nCanonicalQuery\nCanonicalHeaders\n\nSignedHeaders\nPayloadHash.
    /// `headers` are the headers to sign (unsignable ones are skipped).
    [[nodiscard]] static std::string canonical_request(std::string_view method, std::string_view target,
                                                       std::span<sigv4_header const> headers,
                                                       std::string_view payload_hash, bool normalize_path,
                                                       bool double_encode_path);

    /// The canonical URI of a raw wire path ("" -> "/").
    [[nodiscard]] static std::string canonical_uri(std::string_view raw_path, bool normalize_path,
                                                   bool double_encode_path);

    /// The canonical query of a raw wire query (without '?'): each key and value
    /// percent-decoded, re-encoded, sorted by key then value; `k` becomes `k=`.
    [[nodiscard]] static std::string canonical_query(std::string_view raw_query);

    /// "name:value\n" lines, sorted, for the signable headers; values trimmed,
    /// whitespace runs collapsed, repeated headers joined with ','.
    [[nodiscard]] static std::string canonical_headers(std::span<sigv4_header const> headers);

    /// "host;x-amz-date": the sorted lower-case names of the signable headers.
    [[nodiscard]] static std::string signed_headers(std::span<sigv4_header const> headers);

    /// False for hop-by-hop and client-specific headers that proxies may rewrite
    /// (user-agent, connection, expect, proxy-*, ...): the set the AWS SDKs skip.
    [[nodiscard]] static bool is_signable(std::string_view lower_name);

    /// x-amz-content-sha256 if present, else hex(sha256(body)).
    [[nodiscard]] static std::string payload_hash(std::span<sigv4_header const> headers,
                                                  std::string_view body);

    /// "yyyyMMdd/region/service/aws4_request".
    [[nodiscard]] static std::string credential_scope(std::string_view amz_date, std::string_view region,
                                                      std::string_view service);

    /// AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex(sha256(canonical_request))>.
    [[nodiscard]] static std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                                                    std::string_view canonical_request);

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"); raw bytes.
    [[nodiscard]] static std::string signing_key(std::string_view secret_access_key, std::string_view date,
                                                 std::string_view region, std::string_view service);

    /// hex(HMAC(signing_key, string_to_sign)).
    [[nodiscard]] static std::string signature(std::string_view signing_key, std::string_view string_to_sign);

    /// "AWS4-HMAC-SHA256 Credential=<akid>/<scope>, SignedHeaders=<...>, Signature=<...>".
    [[nodiscard]] static std::string authorization(std::string_view access_key_id, std::string_view scope,
                                                   std::string_view signed_headers,
                                                   std::string_view signature);

    /// Percent-encodes every byte except A-Za-z0-9-._~ (and '/' when `keep_slash`), upper-case hex.
    [[nodiscard]] static std::string uri_encode(std::string_view bytes, bool keep_slash);

    /// lower-case hex(sha256(data)).
    [[nodiscard]] static std::string hex_sha256(std::string_view data);

    /// `now` (UTC, truncated to the second) as yyyyMMddTHHmmssZ.
    [[nodiscard]] static std::string amz_date(std::chrono::system_clock::time_point now);

    /// Parses yyyyMMddTHHmmssZ; anything else -> nullopt.
    [[nodiscard]] static std::optional<std::chrono::system_clock::time_point>
    parse_amz_date(std::string_view text);
};

} // namespace stratus::aws
