#include "adapters/dynamodb/dynamodb_client.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <random>
#include <thread>
#include <utility>

#include <boost/crc.hpp>

namespace stratus::dynamodb {
namespace {

constexpr std::string_view target_prefix = "DynamoDB_20120810.";
constexpr std::string_view content_type = "application/x-amz-json-1.0";

// Error names by kind. DynamoDB sends "<namespace>#<Name>"; DynamoDB Local and
// moto may send the bare name.
constexpr std::array throttling_errors = {
    std::string_view("ProvisionedThroughputExceededException"),
    std::string_view("ThrottlingException"),
    std::string_view("Throttling"),
    std::string_view("RequestLimitExceeded"),
    std::string_view("TransactionInProgressException"),
    std::string_view("LimitExceededException"),
};
constexpr std::array validation_errors = {
    std::string_view("ValidationException"),
    std::string_view("SerializationException"),
    std::string_view("IdempotentParameterMismatchException"),
    std::string_view("UnknownOperationException"),
};
constexpr std::array auth_errors = {
    std::string_view("UnrecognizedClientException"),
    std::string_view("InvalidSignatureException"),
    std::string_view("MissingAuthenticationTokenException"),
    std::string_view("IncompleteSignatureException"),
    std::string_view("AccessDeniedException"),
    std::string_view("ExpiredTokenException"),
    std::string_view("InvalidClientTokenId"),
    std::string_view("SignatureDoesNotMatch"),
};

template <std::size_t N>
bool one_of(std::array<std::string_view, N> const& names, std::string_view name)
{
    return std::find(names.begin(), names.end(), name) != names.end();
}

// Operations that accept ReturnConsumedCapacity, and whether they read.
bool reports_capacity(std::string_view operation)
{
    return operation == "GetItem" || operation == "PutItem" || operation == "UpdateItem" ||
           operation == "DeleteItem" || operation == "Query" || operation == "Scan" ||
           operation == "BatchGetItem" || operation == "BatchWriteItem" ||
           operation == "TransactWriteItems" || operation == "TransactGetItems";
}

bool is_read(std::string_view operation)
{
    return operation == "GetItem" || operation == "Query" || operation == "Scan" ||
           operation == "BatchGetItem" || operation == "TransactGetItems";
}

// The default random source: one engine per thread, so no lock is needed.
double thread_random()
{
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::string string_member(nlohmann::json const& object, std::string_view lower, std::string_view upper)
{
    for (auto name : {lower, upper}) {
        if (auto const it = object.find(name); it != object.end() && it->is_string()) {
            return it->get<std::string>();
        }
    }
    return {};
}

// x-amz-crc32 is the decimal CRC-32/IEEE of the raw body.
bool crc_matches(aws::http_response const& response)
{
    auto const header = response.header("x-amz-crc32");
    if (!header) {
        return true;
    }
    std::uint64_t expected = 0;
    auto const text = *header;
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), expected);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return false;
    }
    boost::crc_32_type crc;
    crc.process_bytes(response.body.data(), response.body.size());
    return crc.checksum() == expected;
}

dynamodb_error transport_error(std::string type, std::string message, int status = 0)
{
    dynamodb_error error;
    error.kind = error_kind::transport;
    error.type = std::move(type);
    error.message = std::move(message);
    error.status = status;
    return error;
}

} // namespace

std::string_view to_string(error_kind kind) noexcept
{
    switch (kind) {
    case error_kind::conditional_check_failed:
        return "conditional_check_failed";
    case error_kind::transaction_canceled:
        return "transaction_canceled";
    case error_kind::transaction_conflict:
        return "transaction_conflict";
    case error_kind::throttled:
        return "throttled";
    case error_kind::validation:
        return "validation";
    case error_kind::resource_not_found:
        return "resource_not_found";
    case error_kind::resource_in_use:
        return "resource_in_use";
    case error_kind::auth:
        return "auth";
    case error_kind::server:
        return "server";
    case error_kind::transport:
        return "transport";
    case error_kind::other:
        return "other";
    }
    return "other";
}

bool dynamodb_error::retryable() const noexcept
{
    return kind == error_kind::throttled || kind == error_kind::server || kind == error_kind::transport;
}

std::vector<std::string> dynamodb_error::reason_codes() const
{
    std::vector<std::string> codes;
    codes.reserve(cancellation_reasons.size());
    for (auto const& reason : cancellation_reasons) {
        codes.push_back(reason.code);
    }
    return codes;
}

std::string dynamodb_error::describe() const
{
    std::string text = type.empty() ? std::string(to_string(kind)) : type;
    if (status != 0) {
        text += " (" + std::to_string(status) + ")";
    }
    if (!message.empty()) {
        text += ": " + message;
    }
    return text;
}

dynamodb_client::dynamodb_client(aws::http_client& http, aws::sigv4_signer const& signer,
                                 aws::endpoint target, client_options options)
    : http_(http), signer_(signer), target_(std::move(target)), host_(target_.host_header()),
      options_(std::move(options))
{
    if (!options_.sleep) {
        options_.sleep = [](std::chrono::milliseconds delay) { std::this_thread::sleep_for(delay); };
    }
    if (!options_.random) {
        options_.random = thread_random;
    }
    if (!options_.now) {
        options_.now = [] { return std::chrono::system_clock::now(); };
    }
    options_.retry.max_attempts = std::max(options_.retry.max_attempts, 1);
}

dynamodb_error dynamodb_client::parse_error(aws::http_response const& response)
{
    dynamodb_error error;
    error.status = response.status;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_object()) {
        error.type = string_member(body, "__type", "__type");
        error.message = string_member(body, "message", "Message");
    }
    if (error.type.empty()) {
        // Some servers only name the error in a header ("Name:http://...").
        if (auto const header = response.header("x-amzn-ErrorType")) {
            error.type = std::string(header->substr(0, header->find(':')));
        }
    }
    if (auto const hash = error.type.rfind('#'); hash != std::string::npos) {
        error.type.erase(0, hash + 1);
    }
    if (error.message.empty() && !body.is_object()) {
        error.message = response.body.substr(0, 200);
    }

    auto const& type = error.type;
    if (type == "ConditionalCheckFailedException") {
        error.kind = error_kind::conditional_check_failed;
    } else if (type == "TransactionCanceledException") {
        error.kind = error_kind::transaction_canceled;
        if (auto const reasons = body.find("CancellationReasons");
            reasons != body.end() && reasons->is_array()) {
            for (auto const& entry : *reasons) {
                cancellation_reason reason;
                if (entry.is_object()) {
                    reason.code = string_member(entry, "Code", "Code");
                    reason.message = string_member(entry, "Message", "message");
                    if (auto const item = entry.find("Item"); item != entry.end()) {
                        reason.item = *item;
                    }
                }
                error.cancellation_reasons.push_back(std::move(reason));
            }
        }
    } else if (type == "TransactionConflictException") {
        error.kind = error_kind::transaction_conflict;
    } else if (one_of(throttling_errors, type)) {
        error.kind = error_kind::throttled;
    } else if (response.status >= 500) {
        error.kind = error_kind::server;
    } else if (one_of(validation_errors, type)) {
        error.kind = error_kind::validation;
    } else if (type == "ResourceNotFoundException") {
        error.kind = error_kind::resource_not_found;
    } else if (type == "ResourceInUseException") {
        error.kind = error_kind::resource_in_use;
    } else if (one_of(auth_errors, type) || response.status == 401 || response.status == 403) {
        error.kind = error_kind::auth;
    } else {
        error.kind = error_kind::other;
    }
    return error;
}

outcome<nlohmann::json> dynamodb_client::send_once(std::string_view operation, std::string const& body)
{
    aws::http_request request;
    request.method = "POST";
    request.target = target_.base_path + "/";
    request.headers = {
        {"Content-Type", std::string(content_type)},
        {"X-Amz-Target", std::string(target_prefix) + std::string(operation)},
    };
    request.body = body;
    signer_.sign(request, host_, options_.now());
    {
        std::lock_guard lock(mutex_);
        ++totals_.requests;
    }

    auto response = http_.send(request);
    if (!response) {
        return tl::unexpected(transport_error("TransportError", response.error().detail));
    }
    // A damaged body is a transport failure whatever the status says.
    if (!crc_matches(*response)) {
        return tl::unexpected(transport_error("Crc32Mismatch", "response body does not match its x-amz-crc32",
                                              response->status));
    }
    if (response->status != 200) {
        return tl::unexpected(parse_error(*response));
    }
    auto parsed = nlohmann::json::parse(response->body, nullptr, false);
    if (!parsed.is_object()) {
        // Without a CRC to tell, a truncated body looks like this: send again.
        return tl::unexpected(transport_error("MalformedResponse", "200 response is not a JSON object", 200));
    }
    return parsed;
}

outcome<nlohmann::json> dynamodb_client::call(std::string_view operation, nlohmann::json request)
{
    if (reports_capacity(operation)) {
        request["ReturnConsumedCapacity"] = "TOTAL";
    }
    std::string body;
    try {
        body = request.dump();
    } catch (std::exception const& e) {
        // Only invalid UTF-8 in a string makes dump() throw.
        dynamodb_error error;
        error.kind = error_kind::validation;
        error.type = "InvalidUtf8";
        error.message = e.what();
        return tl::unexpected(std::move(error));
    }
    for (int attempt = 0;; ++attempt) {
        auto response = send_once(operation, body);
        if (response) {
            account(operation, *response);
            return response;
        }
        if (!response.error().retryable() || attempt + 1 >= options_.retry.max_attempts) {
            return response;
        }
        {
            std::lock_guard lock(mutex_);
            ++totals_.retries;
        }
        pause(backoff(attempt));
    }
}

void dynamodb_client::account(std::string_view operation, nlohmann::json const& response)
{
    auto const consumed = response.find("ConsumedCapacity");
    if (consumed == response.end()) {
        return;
    }
    double read = 0;
    double write = 0;
    auto const add = [&](nlohmann::json const& entry) {
        if (!entry.is_object()) {
            return;
        }
        auto const number = [&](std::string_view name) {
            auto const it = entry.find(name);
            return it != entry.end() && it->is_number() ? it->get<double>() : -1.0;
        };
        auto const r = number("ReadCapacityUnits");
        auto const w = number("WriteCapacityUnits");
        if (r >= 0 || w >= 0) {
            read += std::max(r, 0.0);
            write += std::max(w, 0.0);
        } else if (auto const units = number("CapacityUnits"); units >= 0) {
            (is_read(operation) ? read : write) += units;
        }
    };
    if (consumed->is_array()) {
        for (auto const& entry : *consumed) {
            add(entry);
        }
    } else {
        add(*consumed);
    }
    std::lock_guard lock(mutex_);
    totals_.read_units += read;
    totals_.write_units += write;
}

outcome<nlohmann::json> dynamodb_client::get_item(nlohmann::json request)
{
    return call("GetItem", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::put_item(nlohmann::json request)
{
    return call("PutItem", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::update_item(nlohmann::json request)
{
    return call("UpdateItem", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::delete_item(nlohmann::json request)
{
    return call("DeleteItem", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::transact_write_items(nlohmann::json request)
{
    return call("TransactWriteItems", std::move(request));
}

outcome<std::vector<nlohmann::json>> dynamodb_client::query(nlohmann::json request,
                                                            std::optional<std::size_t> max_items)
{
    std::vector<nlohmann::json> items;
    for (;;) {
        if (max_items) {
            // Ask for no more than is still wanted (Limit counts before any filter).
            request["Limit"] = std::max<std::size_t>(*max_items - items.size(), 1);
        }
        auto page = call("Query", request);
        if (!page) {
            return tl::unexpected(std::move(page.error()));
        }
        if (auto const found = page->find("Items"); found != page->end() && found->is_array()) {
            for (auto& item : *found) {
                items.push_back(std::move(item));
            }
        }
        auto const next = page->find("LastEvaluatedKey");
        // LastEvaluatedKey may be present although the next page is empty.
        if (next == page->end() || !next->is_object() || next->empty() ||
            (max_items && items.size() >= *max_items)) {
            return items;
        }
        request["ExclusiveStartKey"] = std::move(*next);
    }
}

std::optional<dynamodb_error> dynamodb_client::resubmit_or_give_up(int round, std::string_view operation,
                                                                   std::string_view unprocessed)
{
    if (round + 1 >= options_.retry.max_attempts) {
        dynamodb_error error;
        error.kind = error_kind::throttled;
        error.type = std::string(unprocessed);
        error.message = std::string(operation) + " left " + std::string(unprocessed) + " after " +
                        std::to_string(options_.retry.max_attempts) + " rounds";
        return error;
    }
    {
        std::lock_guard lock(mutex_);
        ++totals_.retries;
    }
    pause(backoff(round));
    return std::nullopt;
}

outcome<void> dynamodb_client::batch_write_item(nlohmann::json request)
{
    for (int round = 0;; ++round) {
        auto response = call("BatchWriteItem", request);
        if (!response) {
            return tl::unexpected(std::move(response.error()));
        }
        auto const unprocessed = response->find("UnprocessedItems");
        if (unprocessed == response->end() || !unprocessed->is_object() || unprocessed->empty()) {
            return {};
        }
        if (auto exhausted = resubmit_or_give_up(round, "BatchWriteItem", "UnprocessedItems"); exhausted) {
            return tl::unexpected(std::move(*exhausted));
        }
        // Resubmit only what was not written, after a backoff.
        request["RequestItems"] = std::move(*unprocessed);
    }
}

outcome<nlohmann::json> dynamodb_client::batch_get_item(nlohmann::json request)
{
    nlohmann::json merged = nlohmann::json::object();
    for (int round = 0;; ++round) {
        auto response = call("BatchGetItem", request);
        if (!response) {
            return tl::unexpected(std::move(response.error()));
        }
        if (auto const responses = response->find("Responses");
            responses != response->end() && responses->is_object()) {
            for (auto& [table, items] : responses->items()) {
                auto& into = merged[table];
                if (!into.is_array()) {
                    into = nlohmann::json::array();
                }
                for (auto& item : items) {
                    into.push_back(std::move(item));
                }
            }
        }
        auto const unprocessed = response->find("UnprocessedKeys");
        if (unprocessed == response->end() || !unprocessed->is_object() || unprocessed->empty()) {
            return merged;
        }
        if (auto exhausted = resubmit_or_give_up(round, "BatchGetItem", "UnprocessedKeys"); exhausted) {
            return tl::unexpected(std::move(*exhausted));
        }
        request["RequestItems"] = std::move(*unprocessed);
    }
}

outcome<nlohmann::json> dynamodb_client::create_table(nlohmann::json request)
{
    return call("CreateTable", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::describe_table(std::string_view table)
{
    return call("DescribeTable", nlohmann::json{{"TableName", std::string(table)}});
}

outcome<nlohmann::json> dynamodb_client::update_time_to_live(nlohmann::json request)
{
    return call("UpdateTimeToLive", std::move(request));
}

outcome<nlohmann::json> dynamodb_client::delete_table(std::string_view table)
{
    return call("DeleteTable", nlohmann::json{{"TableName", std::string(table)}});
}

capacity_totals dynamodb_client::capacity() const
{
    std::lock_guard lock(mutex_);
    return totals_;
}

std::chrono::milliseconds dynamodb_client::backoff(int attempt) const
{
    return backoff(attempt, options_.retry.base, options_.retry.cap);
}

std::chrono::milliseconds dynamodb_client::backoff(int attempt, std::chrono::milliseconds base,
                                                   std::chrono::milliseconds cap) const
{
    // min(cap, base * 2^attempt) without overflow, then full jitter.
    auto const exponent = std::clamp(attempt, 0, 30);
    auto const ceiling = std::min(static_cast<double>(cap.count()),
                                  static_cast<double>(base.count()) * std::ldexp(1.0, exponent));
    auto const fraction = std::clamp(options_.random(), 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(fraction * ceiling));
}

void dynamodb_client::pause(std::chrono::milliseconds delay) const
{
    options_.sleep(delay);
}

} // namespace stratus::dynamodb
