#include "counting_http_client.hpp"

#include <algorithm>
#include <regex>
#include <vector>

#include "dynamodb_capacity.hpp"

namespace stratus::cost {
namespace {

using json = nlohmann::json;
namespace rules = capacity_rules;

constexpr std::string_view target_prefix = "DynamoDB_20120810.";

std::string string_of(json const& attribute)
{
    if (attribute.is_object()) {
        for (auto const& [type, content] : attribute.items()) {
            if (content.is_string()) {
                return content.get<std::string>();
            }
        }
    }
    return {};
}

bool consistent_read(json const& request)
{
    return request.value("ConsistentRead", false);
}

/// The value bound to `placeholder` in ExpressionAttributeValues, as a string.
std::string bound(json const& request, std::string const& placeholder)
{
    auto const values = request.find("ExpressionAttributeValues");
    if (values == request.end() || !values->contains(placeholder)) {
        return {};
    }
    return string_of((*values)[placeholder]);
}

} // namespace

counting_http_client::counting_http_client(aws::http_client& inner, std::string hash_key,
                                           std::string range_key)
    : inner_(inner), hash_key_(std::move(hash_key)), range_key_(std::move(range_key))
{
}

result<aws::http_response> counting_http_client::send(aws::http_request const& request)
{
    auto response = inner_.send(request);
    auto const target = request.header("X-Amz-Target").value_or("");
    if (target.substr(0, target_prefix.size()) != target_prefix) {
        return response;
    }
    auto const operation = std::string(target.substr(target_prefix.size()));
    auto const body = json::parse(request.body, nullptr, false);
    json answer = json::object();
    int status = 0;
    if (response) {
        status = response->status;
        answer = json::parse(response->body, nullptr, false);
        if (answer.is_discarded()) {
            answer = json::object();
        }
    }
    std::lock_guard lock(mutex_);
    if (!response || body.is_discarded()) {
        auto& tally = tallies_[operation];
        tally.requests += 1;
        tally.failed += 1;
        return response;
    }
    account(operation, body, status, answer);
    return response;
}

std::map<std::string, operation_tally> counting_http_client::tallies() const
{
    std::lock_guard lock(mutex_);
    return tallies_;
}

void counting_http_client::reset_tallies()
{
    std::lock_guard lock(mutex_);
    tallies_.clear();
}

counting_http_client::item_key counting_http_client::key_of(std::string const& table, json const& item) const
{
    std::string hash;
    std::string range;
    if (auto const h = item.find(hash_key_); h != item.end()) {
        hash = string_of(*h);
    }
    if (auto const r = item.find(range_key_); r != item.end()) {
        range = string_of(*r);
    }
    return {table, hash, range};
}

std::uint64_t counting_http_client::read_size(std::string const& table, json const& item) const
{
    auto const known = sizes_.find(key_of(table, item));
    return known != sizes_.end() ? known->second : rules::item_size(item);
}

void counting_http_client::account_write(operation_tally& tally, std::string const& table, json const& kind,
                                         std::string const& verb, bool applied, bool transactional)
{
    std::uint64_t charged = 0;
    if (verb == "Put" || verb == "PutRequest") {
        auto const& item = kind.at("Item");
        auto const key = key_of(table, item);
        auto const size = rules::item_size(item);
        auto const old = sizes_.find(key);
        // A replaced item is charged on the larger of the two versions.
        charged = std::max(size, old != sizes_.end() ? old->second : 0);
        if (applied) {
            sizes_[key] = size;
        }
    } else if (verb == "Update") {
        auto const& key_item = kind.at("Key");
        auto const key = key_of(table, key_item);
        auto const old = sizes_.find(key);
        auto const old_size = old != sizes_.end() ? old->second : 0;
        // After the update: at least the key plus every value the update sets.
        auto estimate = rules::item_size(key_item);
        if (auto const values = kind.find("ExpressionAttributeValues"); values != kind.end()) {
            for (auto const& [name, value] : values->items()) {
                estimate += name.size() + rules::value_size(value);
            }
        }
        charged = std::max(old_size, estimate);
        if (applied) {
            sizes_[key] = charged;
        }
    } else if (verb == "Delete" || verb == "DeleteRequest") {
        auto const key = key_of(table, kind.at("Key"));
        auto const old = sizes_.find(key);
        charged = old != sizes_.end() ? old->second : rules::item_size(kind.at("Key"));
        if (applied && old != sizes_.end()) {
            sizes_.erase(old);
        }
    } else if (verb == "ConditionCheck") {
        auto const key = key_of(table, kind.at("Key"));
        auto const old = sizes_.find(key);
        charged = old != sizes_.end() ? old->second : rules::item_size(kind.at("Key"));
    } else {
        return;
    }
    tally.write_units += rules::write_units(charged, transactional);
    tally.items_written += 1;
    tally.bytes_written += charged;
}

std::uint64_t counting_http_client::query_evaluated_bytes(json const& request, json const& response,
                                                          std::uint64_t& items) const
{
    auto const table = request.value("TableName", std::string());
    auto const& returned = response.contains("Items") ? response["Items"] : json::array();
    bool const filtered = request.contains("FilterExpression") || request.contains("ProjectionExpression");
    if (!filtered) {
        // Whole items come back: they are what was evaluated.
        std::uint64_t bytes = 0;
        for (auto const& item : returned) {
            bytes += read_size(table, item);
        }
        items = returned.size();
        return bytes;
    }
    // Filtered or projected: evaluate the key condition on the shadow and take
    // as many items as DynamoDB says it evaluated (ScannedCount), in key order.
    auto const condition = request.value("KeyConditionExpression", std::string());
    std::smatch match;
    std::string hash;
    if (std::regex_search(condition, match, std::regex(hash_key_ + R"(\s*=\s*(:\w+))"))) {
        hash = bound(request, match[1]);
    }
    std::string prefix;
    std::string low;
    std::string high;
    if (std::regex_search(condition, match,
                          std::regex(R"(begins_with\(\s*)" + range_key_ + R"(\s*,\s*(:\w+)\s*\))"))) {
        prefix = bound(request, match[1]);
    } else if (std::regex_search(condition, match,
                                 std::regex(range_key_ + R"(\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+))"))) {
        low = bound(request, match[1]);
        high = bound(request, match[2]);
    }
    std::vector<std::pair<std::string, std::uint64_t>> candidates;
    for (auto it = sizes_.lower_bound({table, hash, std::string()});
         it != sizes_.end() && std::get<0>(it->first) == table && std::get<1>(it->first) == hash; ++it) {
        auto const& range = std::get<2>(it->first);
        if (!prefix.empty() && range.compare(0, prefix.size(), prefix) != 0) {
            continue;
        }
        if (!low.empty() && (range < low || range > high)) {
            continue;
        }
        candidates.emplace_back(range, it->second);
    }
    if (!request.value("ScanIndexForward", true)) {
        std::reverse(candidates.begin(), candidates.end());
    }
    if (auto const start = request.find("ExclusiveStartKey"); start != request.end()) {
        auto const after = string_of(start->value(range_key_, json::object()));
        auto const forward = request.value("ScanIndexForward", true);
        std::erase_if(candidates,
                      [&](auto const& c) { return forward ? c.first <= after : c.first >= after; });
    }
    auto const scanned =
        static_cast<std::size_t>(response.value("ScannedCount", static_cast<std::uint64_t>(returned.size())));
    if (candidates.size() < returned.size()) {
        // The shadow does not know these items: size what came back.
        std::uint64_t bytes = 0;
        for (auto const& item : returned) {
            bytes += read_size(table, item);
        }
        items = returned.size();
        return bytes;
    }
    std::uint64_t bytes = 0;
    items = std::min(scanned, candidates.size());
    for (std::size_t i = 0; i < items; ++i) {
        bytes += candidates[i].second;
    }
    return bytes;
}

void counting_http_client::account(std::string const& operation, json const& request, int status,
                                   json const& response)
{
    auto& tally = tallies_[operation];
    tally.requests += 1;
    bool const ok = status == 200;
    if (!ok) {
        tally.failed += 1;
    }
    auto const table = request.value("TableName", std::string());

    if (operation == "PutItem") {
        account_write(tally, table, request, "Put", ok, false);
    } else if (operation == "UpdateItem") {
        account_write(tally, table, request, "Update", ok, false);
    } else if (operation == "DeleteItem") {
        account_write(tally, table, request, "Delete", ok, false);
    } else if (operation == "BatchWriteItem") {
        auto const batch = request.value("RequestItems", json::object());
        for (auto const& [name, requests] : batch.items()) {
            for (auto const& entry : requests) {
                for (auto const& [verb, kind] : entry.items()) {
                    account_write(tally, name, kind, verb, ok, false);
                }
            }
        }
    } else if (operation == "TransactWriteItems") {
        for (auto const& entry : request.value("TransactItems", json::array())) {
            for (auto const& [verb, kind] : entry.items()) {
                account_write(tally, kind.value("TableName", std::string()), kind, verb, ok, true);
            }
        }
    } else if (operation == "GetItem") {
        // Charged on the whole stored item (a projection does not reduce it);
        // a missing item still costs the minimum.
        auto const key = key_of(table, request.value("Key", json::object()));
        auto const known = sizes_.find(key);
        std::uint64_t bytes = 0;
        if (known != sizes_.end()) {
            bytes = known->second;
        } else if (response.contains("Item")) {
            bytes = rules::item_size(response["Item"]);
        }
        tally.read_units += rules::read_units(bytes, consistent_read(request));
        tally.items_read += response.contains("Item") ? 1 : 0;
        tally.bytes_read += bytes;
    } else if (operation == "Query" || operation == "Scan") {
        std::uint64_t items = 0;
        auto const bytes = operation == "Query" ? query_evaluated_bytes(request, response, items) : [&] {
            std::uint64_t sum = 0;
            for (auto const& item : response.value("Items", json::array())) {
                sum += read_size(table, item);
            }
            items = response.value("Items", json::array()).size();
            return sum;
        }();
        tally.read_units += rules::read_units(bytes, consistent_read(request));
        tally.items_read += items;
        tally.bytes_read += bytes;
    } else if (operation == "BatchGetItem") {
        // Each item is rounded up on its own.
        auto const batch = request.value("RequestItems", json::object());
        for (auto const& [name, spec] : batch.items()) {
            bool const consistent = spec.value("ConsistentRead", false);
            for (auto const& key : spec.value("Keys", json::array())) {
                auto const known = sizes_.find(key_of(name, key));
                auto const bytes = known != sizes_.end() ? known->second : 0;
                tally.read_units += rules::read_units(bytes, consistent);
                tally.items_read += known != sizes_.end() ? 1 : 0;
                tally.bytes_read += bytes;
            }
        }
    }
    // Control-plane operations (CreateTable, DescribeTable, ...) are only counted.
}

} // namespace stratus::cost
