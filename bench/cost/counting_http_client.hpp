#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <nlohmann/json.hpp>

#include "adapters/aws/http_client.hpp"

namespace stratus::cost {

/// What one DynamoDB operation cost, summed over its requests.
struct operation_tally {
    std::uint64_t requests = 0;
    std::uint64_t failed = 0; ///< non-200 answers (conditional failures, cancelled transactions)
    double read_units = 0;    ///< RRU by DynamoDB's rules (capacity_rules)
    double write_units = 0;   ///< WRU by DynamoDB's rules
    std::uint64_t items_read = 0;
    std::uint64_t items_written = 0;
    std::uint64_t bytes_read = 0;    ///< item bytes the read units were charged on
    std::uint64_t bytes_written = 0; ///< item bytes the write units were charged on
};

/// An aws::http_client decorator for the DynamoDB JSON protocol that counts
/// every request by operation (the X-Amz-Target header) and charges it read and
/// write units by DynamoDB's documented rules, from the item sizes in the
/// request bodies (writes) and in the responses (reads).
///
/// It keeps the size of every item written through it (a shadow of the tables'
/// sizes, keyed by table and the key attributes), because DynamoDB charges
/// some requests on items the request does not carry: an update or a delete on
/// the item as stored (the larger of before and after), a projected GetItem or
/// Query on the whole item, a filtered Query on every item it evaluated
/// (ScannedCount, before the filter). Items never written through this client
/// are sized from the response alone.
///
/// Failed requests are charged as if they had succeeded: DynamoDB bills a
/// failed conditional write, and this model assumes the same for a cancelled
/// transaction. Retries are separate requests and are charged again.
/// Thread-safe; the inner client must outlive the decorator.
class counting_http_client final : public aws::http_client {
public:
    /// `hash_key` and `range_key`: the key attribute names of every table.
    explicit counting_http_client(aws::http_client& inner, std::string hash_key = "pk",
                                  std::string range_key = "sk");

    // http_client
    result<aws::http_response> send(aws::http_request const& request) override;

    /// Tallies by operation name ("GetItem", "Query", ...) since the last reset.
    [[nodiscard]] std::map<std::string, operation_tally> tallies() const;

    /// Starts a new count (the item sizes are kept).
    void reset_tallies();

private:
    using item_key = std::tuple<std::string, std::string, std::string>; // table, hash, range

    void account(std::string const& operation, nlohmann::json const& request, int status,
                 nlohmann::json const& response);
    void account_write(operation_tally& tally, std::string const& table, nlohmann::json const& kind,
                       std::string const& verb, bool applied, bool transactional);
    std::uint64_t read_size(std::string const& table, nlohmann::json const& item) const;
    std::uint64_t query_evaluated_bytes(nlohmann::json const& request, nlohmann::json const& response,
                                        std::uint64_t& items) const;
    item_key key_of(std::string const& table, nlohmann::json const& item) const;

    aws::http_client& inner_;
    std::string hash_key_;
    std::string range_key_;

    // This mutex synchronizes tallies_ and sizes_.
    mutable std::mutex mutex_;
    std::map<std::string, operation_tally> tallies_;
    std::map<item_key, std::uint64_t> sizes_;
};

} // namespace stratus::cost
