#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "adapters/aws/http_client.hpp"
#include "adapters/aws/http_message.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "core/result.hpp"

namespace stratus::dynamodb {

/// What went wrong, as far as a caller needs to decide: each kind is a
/// distinct outcome (retry, re-read, give up).
enum class error_kind {
    conditional_check_failed, ///< ConditionalCheckFailedException
    transaction_canceled,     ///< TransactionCanceledException: see cancellation_reasons
    transaction_conflict,     ///< TransactionConflictException (a single write met a transaction)
    throttled,                ///< ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded, ...
    validation,               ///< ValidationException, SerializationException, ...
    resource_not_found,       ///< ResourceNotFoundException (no such table)
    resource_in_use,          ///< ResourceInUseException (table exists or is busy)
    auth,                     ///< UnrecognizedClient, InvalidSignature, AccessDenied, ...
    server,                   ///< HTTP 5xx
    transport,                ///< no response, or a body that fails its x-amz-crc32
    other,                    ///< any other 4xx
};

/// Stable lower-case name of a kind ("throttled", ...).
[[nodiscard]] std::string_view to_string(error_kind kind) noexcept;

/// One entry of TransactionCanceledException.CancellationReasons, in the order
/// of the transaction's items. `item` is the old item when the request asked for
/// ReturnValuesOnConditionCheckFailure=ALL_OLD (null otherwise).
struct cancellation_reason {
    std::string code; ///< "None", "ConditionalCheckFailed", "TransactionConflict", ...
    std::string message;
    nlohmann::json item;
};

/// A failed call, after the retries the client does itself.
struct dynamodb_error {
    error_kind kind = error_kind::other;
    /// The error name: the text after '#' in __type ("ValidationException").
    std::string type;
    std::string message;
    /// HTTP status; 0 when no response arrived.
    int status = 0;
    /// TransactionCanceledException only: one reason per item, in order.
    std::vector<cancellation_reason> cancellation_reasons;

    /// Throttling, 5xx and transport failures: worth sending again.
    [[nodiscard]] bool retryable() const noexcept;
    /// The reasons' codes, in order.
    [[nodiscard]] std::vector<std::string> reason_codes() const;
    /// "ValidationException (400): message" for logs and error details.
    [[nodiscard]] std::string describe() const;
};

/// The client's own result type (the error carries the DynamoDB details).
template <class T>
using outcome = tl::expected<T, dynamodb_error>;

/// Capped exponential backoff with full jitter:
/// delay(attempt) = random[0, 1) * min(cap, base * 2^attempt), attempt = 0 before the first retry.
struct retry_policy {
    int max_attempts = 8; ///< total tries per call, including the first
    std::chrono::milliseconds base{25};
    std::chrono::milliseconds cap{1000};
};

/// Consumed capacity as the responses reported it (ReturnConsumedCapacity=TOTAL),
/// plus request counts. Failed calls report no capacity, so conditional failures
/// and cancelled transactions are not in the units (DynamoDB still bills them).
struct capacity_totals {
    double read_units = 0;
    double write_units = 0;
    std::uint64_t requests = 0; ///< HTTP requests sent, retries included
    std::uint64_t retries = 0;  ///< requests that were retries
};

/// Everything injectable; the defaults are the real clock, sleep and randomness.
struct client_options {
    retry_policy retry;
    /// Waits between retries (tests record instead of sleeping).
    std::function<void(std::chrono::milliseconds)> sleep;
    /// Uniform in [0, 1). Must be thread-safe.
    std::function<double()> random;
    /// The signing time.
    std::function<std::chrono::system_clock::time_point()> now;
};

/// A small DynamoDB client for the JSON 1.0 protocol (API 2012-08-10): POST /
/// with X-Amz-Target: DynamoDB_20120810.<Operation>, SigV4-signed (service
/// "dynamodb"). Requests and responses are the protocol's JSON documents.
///
/// Retries: only throttling errors, HTTP 5xx and transport failures (including a
/// body whose x-amz-crc32 does not match), with retry_policy's backoff. Every
/// other error returns at once with its kind.
///
/// Every data call sends ReturnConsumedCapacity=TOTAL and adds what the response
/// reports to capacity().
///
/// Thread-safe: calls may run concurrently (the http_client must allow it, as
/// beast_http_client does). The http client and the signer must outlive it.
class dynamodb_client {
public:
    dynamodb_client(aws::http_client& http, aws::sigv4_signer const& signer, aws::endpoint target,
                    client_options options = {});

    /// Sends one operation ("PutItem", ...) with retries. 200 -> the response body.
    [[nodiscard]] outcome<nlohmann::json> call(std::string_view operation, nlohmann::json request);

    [[nodiscard]] outcome<nlohmann::json> get_item(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> put_item(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> update_item(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> delete_item(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> transact_write_items(nlohmann::json request);

    /// Query, following LastEvaluatedKey until the result is complete or
    /// `max_items` items have been collected (each page then asks for no more
    /// than the remainder). Returns the items in the order DynamoDB gave them.
    [[nodiscard]] outcome<std::vector<nlohmann::json>> query(nlohmann::json request,
                                                             std::optional<std::size_t> max_items = {});

    /// BatchWriteItem (at most 25 requests), resubmitting UnprocessedItems with
    /// backoff until none are left. Unprocessed items after max_attempts rounds
    /// -> error_kind::throttled.
    [[nodiscard]] outcome<void> batch_write_item(nlohmann::json request);

    /// BatchGetItem (at most 100 keys), resubmitting UnprocessedKeys with backoff.
    /// Returns the merged Responses object: {"<table>": [item, ...], ...}.
    [[nodiscard]] outcome<nlohmann::json> batch_get_item(nlohmann::json request);

    [[nodiscard]] outcome<nlohmann::json> create_table(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> describe_table(std::string_view table);
    [[nodiscard]] outcome<nlohmann::json> update_time_to_live(nlohmann::json request);
    [[nodiscard]] outcome<nlohmann::json> delete_table(std::string_view table);

    /// Totals since construction (thread-safe snapshot).
    [[nodiscard]] capacity_totals capacity() const;

    /// The delay before retry number `attempt` (0-based) under `policy`'s
    /// base and cap, drawn with the injected random source.
    [[nodiscard]] std::chrono::milliseconds backoff(int attempt) const;

    /// The same, for callers (the store) that back off on their own conflicts.
    [[nodiscard]] std::chrono::milliseconds backoff(int attempt, std::chrono::milliseconds base,
                                                    std::chrono::milliseconds cap) const;

    /// Sleeps through the injected sleep function.
    void pause(std::chrono::milliseconds delay) const;

    /// Parses an error response (exposed for tests): status, headers and body.
    [[nodiscard]] static dynamodb_error parse_error(aws::http_response const& response);

private:
    /// After a batch round that left work unprocessed: gives up (throttled) once
    /// the attempts are used, else counts a retry and backs off.
    std::optional<dynamodb_error> resubmit_or_give_up(int round, std::string_view operation,
                                                      std::string_view unprocessed);

    /// One attempt: sign, send, check the CRC, parse.
    outcome<nlohmann::json> send_once(std::string_view operation, std::string const& body);
    void account(std::string_view operation, nlohmann::json const& response);

    aws::http_client& http_;
    aws::sigv4_signer const& signer_;
    aws::endpoint target_;
    std::string host_;
    client_options options_;

    // This mutex synchronizes totals_.
    mutable std::mutex mutex_;
    capacity_totals totals_;
};

} // namespace stratus::dynamodb
