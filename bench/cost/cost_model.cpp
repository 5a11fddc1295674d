// stratus_cost_model: what one chat message costs on AWS, measured from the
// real chat_service + dynamodb_store against a DynamoDB-compatible endpoint
// (moto, via STRATUS_DYNAMODB_ENDPOINT), priced at the list prices below.
//
//   stratus_cost_model [--messages 200] [--rooms 10,100]
//
// For each room size N: N members connect ($connect) and join one room
// (joinRoom), then `messages` sendMessage frames go through stratus::handler,
// senders taking turns. Every DynamoDB request is counted by operation and
// charged by DynamoDB's documented capacity rules (counting_http_client), since
// moto does not report capacity for transactions; every push is counted by a
// pusher that only counts. Prints Markdown (docs/cost.md's generated section).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/aws/beast_http_client.hpp"
#include "adapters/aws/sigv4_signer.hpp"
#include "adapters/dynamodb/dynamodb_client.hpp"
#include "adapters/dynamodb/dynamodb_store.hpp"
#include "adapters/dynamodb/dynamodb_tables.hpp"
#include "adapters/system/system_clock.hpp"
#include "core/chat_service.hpp"
#include "core/handler.hpp"
#include "counting_http_client.hpp"
#include "dynamodb_capacity.hpp"
#include "gateway/event_builder.hpp"

namespace {

using namespace stratus;

// --- prices (performance.md §6.1: us-east-1 list prices, no free tier) -----------

constexpr char const* prices_as_of = "performance.md §6.1 (us-east-1 list prices, no free tier; "
                                     "that reference's data runs to 2026-08-22)";
constexpr double apigw_message_per_m = 1.00;       // per million messages (32 KB units), first 1 B/month
constexpr double apigw_minute_per_m = 0.25;        // per million connection-minutes
constexpr double lambda_request_per_m = 0.20;      // per million invocations
constexpr double lambda_gb_s_arm64 = 0.0000133334; // per GB-second
constexpr double lambda_gb_s_x86 = 0.0000166667;
constexpr double wru_per_m = 0.625; // on-demand, per million write request units
constexpr double rru_per_m = 0.125; // on-demand, per million read request units

// --- assumptions ----------------------------------------------------------------

constexpr double stratus_memory_gb = 0.25; // infra/template.yaml MemorySize default (256 MB), arm64
// Latency of one warm in-Region call (docs/deploy.md's estimate; performance.md §6.2).
double latency_ms(std::string const& operation)
{
    if (operation == "TransactWriteItems") {
        return 12;
    }
    if (operation == "Query") {
        return 5;
    }
    if (operation == "GetItem") {
        return 4;
    }
    return 6; // other single-item or batch calls
}
constexpr double post_wave_ms = 10;         // one wave of parallel PostToConnection calls
constexpr int post_concurrency = 16;        // apigw_connection_pusher's default
constexpr double handler_cpu_ms = 1;        // parse, frames, signing: bench/micro's handler is ~15-160 µs
constexpr double minutes_per_message = 0.1; // every member connected, one room message per 6 s
constexpr std::uint64_t apigw_unit_bytes = 32 * 1024;
// The chat text of every message: about 100 bytes.
constexpr std::string_view chat_text =
    "Lunch at 12:30 in the usual place? I'll book a table for six if everyone is in, reply by 11 please.";

// The AWS sample (aws-samples/simple-websockets-chat-app, sendmessage/app.js):
// Scan of the whole connections table (eventually consistent), a
// PostToConnection per connection in parallel (Promise.all), nothing stored, no
// route response. Node.js 20 on x86_64, 256 MB (performance.md §2.3).
constexpr double sample_item_bytes = 50; // performance.md §6.2 (the bare item is 28 B)
constexpr double sample_memory_gb = 0.25;
constexpr double sample_scan_ms = 5;
constexpr double sample_cpu_per_post_ms = 0.5; // SDK signing and request set-up in Node at 256 MB
constexpr double sample_overhead_ms = 5;

std::uint64_t apigw_units(std::uint64_t bytes)
{
    return std::max<std::uint64_t>(1, (bytes + apigw_unit_bytes - 1) / apigw_unit_bytes);
}

// --- ports for the scenario -------------------------------------------------------

/// Counts pushes and their API Gateway message units; every push succeeds.
class counting_pusher final : public pusher {
public:
    std::vector<push_status> push(std::span<push_target const> targets, std::string_view payload) override
    {
        pushes += targets.size();
        units += targets.size() * apigw_units(payload.size());
        bytes += targets.size() * payload.size();
        return std::vector<push_status>(targets.size(), push_status::sent);
    }
    void reset() { pushes = units = bytes = 0; }

    // Totals since the last reset (the scenario is single-threaded).
    std::uint64_t pushes = 0;
    std::uint64_t units = 0;
    std::uint64_t bytes = 0;
};

/// Tokens "user:<sub>:<name>" (the scenario's own; nothing is verified).
class scenario_verifier final : public token_verifier {
public:
    result<identity> verify(std::string_view token) override
    {
        auto const rest = token.substr(5);
        auto const colon = rest.find(':');
        return identity{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
    }
};

std::string cognito_sub(std::mt19937_64& rng)
{
    // A Cognito user's `sub`: a UUID (36 characters).
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 36; ++i) {
        out.push_back(i == 8 || i == 13 || i == 18 || i == 23 ? '-' : hex[rng() % 16]);
    }
    out[14] = '4';
    return out;
}

// --- one scenario -----------------------------------------------------------------

struct phase {
    std::map<std::string, cost::operation_tally> operations;
    std::uint64_t pushes = 0;
    std::uint64_t push_units = 0;
    std::uint64_t push_bytes = 0;
    double moto_read_units = 0;
    double moto_write_units = 0;

    [[nodiscard]] std::uint64_t requests() const
    {
        std::uint64_t n = 0;
        for (auto const& [name, t] : operations) {
            n += t.requests;
        }
        return n;
    }
    [[nodiscard]] double read_units() const
    {
        double n = 0;
        for (auto const& [name, t] : operations) {
            n += t.read_units;
        }
        return n;
    }
    [[nodiscard]] double write_units() const
    {
        double n = 0;
        for (auto const& [name, t] : operations) {
            n += t.write_units;
        }
        return n;
    }
};

struct scenario_result {
    int members = 0;
    int messages = 0;
    phase connect;
    phase join;
    phase send;
    std::uint64_t inbound_units = 0;
    std::uint64_t inbound_bytes = 0;
    std::uint64_t ack_units = 0;
    std::uint64_t ack_bytes = 0;
    std::uint64_t message_item_bytes = 0;
    std::uint64_t subscription_item_bytes = 0;
    double wall_ms_per_message = 0;
};

class scenario_runner {
public:
    scenario_runner(aws::endpoint target, std::string const& access_key, std::string const& secret,
                    std::string const& region)
        : target_(std::move(target)), signer_({access_key, secret, ""}, region, "dynamodb")
    {
    }

    result<scenario_result> run(int members, int messages)
    {
        auto http = aws::beast_http_client::create(target_);
        if (!http) {
            return tl::unexpected(http.error());
        }
        cost::counting_http_client counted(**http);
        dynamodb::dynamodb_client client(counted, signer_, target_);
        std::mt19937_64 rng{std::random_device{}()};
        auto const prefix = "cost" + std::to_string(members) + "_" + std::to_string(rng() % 1000000) + "_";
        if (auto made = dynamodb::create_tables(client, prefix); !made) {
            return tl::unexpected(made.error());
        }
        dynamodb_store_options options;
        options.table_prefix = prefix;
        dynamodb_store store(client, options);
        counting_pusher pushes;
        system_clock clock;
        scenario_verifier verifier;
        chat_service service(store, pushes, clock, verifier);
        handler entry(service);

        scenario_result out;
        out.members = members;
        out.messages = messages;
        auto const domain = std::string("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com");
        auto const room = std::string("general");

        auto const begin_phase = [&] {
            counted.reset_tallies();
            pushes.reset();
            return client.capacity();
        };
        auto const end_phase = [&](phase& into, dynamodb::capacity_totals const& before) {
            into.operations = counted.tallies();
            into.pushes = pushes.pushes;
            into.push_units = pushes.units;
            into.push_bytes = pushes.bytes;
            auto const after = client.capacity();
            into.moto_read_units = after.read_units - before.read_units;
            into.moto_write_units = after.write_units - before.write_units;
        };

        // $connect: one per member (API Gateway's 16-character ids, Cognito subs).
        std::vector<gateway::connection_context> connections;
        auto before = begin_phase();
        for (int i = 0; i < members; ++i) {
            char name[32];
            std::snprintf(name, sizeof name, "member-%04d", i);
            apigw_event connect;
            connect.route_key = "$connect";
            connect.event_type = "CONNECT";
            connect.connection_id = gateway::event_builder::make_id();
            connect.request_id = gateway::event_builder::make_id();
            connect.stage = "prod";
            connect.domain_name = domain;
            connect.api_id = "a1b2c3d4e5";
            connect.connected_at_ms = clock.now_ms();
            connect.forwarded_proto = "https";
            connect.query["token"] = "user:" + cognito_sub(rng) + ":" + name;
            if (service.handle(connect).status_code != 200) {
                return fail(errc::internal, "$connect failed");
            }
            gateway::connection_context ctx;
            ctx.connection_id = connect.connection_id;
            ctx.connected_at_ms = connect.connected_at_ms;
            ctx.source_ip = "203.0.113.7";
            ctx.user_agent = "Mozilla/5.0";
            ctx.host = domain;
            ctx.stage = "prod";
            ctx.api_id = "a1b2c3d4e5";
            connections.push_back(ctx);
        }
        end_phase(out.connect, before);

        // joinRoom: every member joins the one room.
        auto const frame = [&](gateway::connection_context const& ctx, std::string_view route,
                               std::string const& body) -> result<std::string> {
            auto const event =
                gateway::event_builder::message_event(ctx, route, body, gateway::event_builder::make_id(),
                                                      gateway::event_builder::make_id(), clock.now_ms());
            auto response = entry.handle(event);
            if (!response) {
                return response;
            }
            auto parsed = parse_proxy_response(*response);
            if (!parsed || parsed->status_code != 200 || !parsed->body) {
                return fail(errc::internal, std::string(route) + " failed: " + *response);
            }
            return *parsed->body;
        };
        before = begin_phase();
        for (auto const& ctx : connections) {
            if (auto joined = frame(ctx, "joinRoom", R"({"action":"joinRoom","room":")" + room + R"("})");
                !joined) {
                return tl::unexpected(joined.error());
            }
        }
        end_phase(out.join, before);

        // sendMessage: `messages` frames, senders taking turns, 100-byte texts.
        before = begin_phase();
        auto const started = std::chrono::steady_clock::now();
        for (int m = 0; m < messages; ++m) {
            auto const& ctx = connections[static_cast<std::size_t>(m % members)];
            auto const body = R"({"action":"sendMessage","room":")" + room + R"(","text":")" +
                              std::string(chat_text) + R"(","clientMsgId":"c)" + std::to_string(rng()) +
                              R"("})";
            auto ack = frame(ctx, "sendMessage", body);
            if (!ack || ack->find(R"("type":"ack")") == std::string::npos) {
                return fail(errc::internal, "sendMessage failed: " + (ack ? *ack : ack.error().detail));
            }
            out.inbound_units += apigw_units(body.size());
            out.inbound_bytes += body.size();
            out.ack_units += apigw_units(ack->size());
            out.ack_bytes += ack->size();
        }
        auto const elapsed = std::chrono::steady_clock::now() - started;
        end_phase(out.send, before);
        out.wall_ms_per_message =
            std::chrono::duration<double, std::milli>(elapsed).count() / static_cast<double>(messages);

        // Item sizes as DynamoDB counts them, for the record.
        auto const& transact = out.send.operations["TransactWriteItems"];
        out.message_item_bytes =
            transact.items_written > 0 ? transact.bytes_written / transact.items_written : 0;
        auto const& query = out.send.operations["Query"];
        out.subscription_item_bytes = query.items_read > 0 ? query.bytes_read / query.items_read : 0;

        if (auto dropped = dynamodb::delete_tables(client, prefix); !dropped) {
            std::cerr << "warning: tables " << prefix << "* not deleted: " << dropped.error().detail << "\n";
        }
        return out;
    }

private:
    aws::endpoint target_;
    aws::sigv4_signer signer_;
};

// --- pricing ----------------------------------------------------------------------

struct line_items {
    double apigw_messages = 0; // billed messages per chat message
    double lambda_ms = 0;
    double lambda_gb = 0;
    double lambda_price = 0;
    double rru = 0;
    double wru = 0;
    double connection_minutes = 0;

    [[nodiscard]] double apigw_cost() const { return apigw_messages * apigw_message_per_m; }
    [[nodiscard]] double lambda_request_cost() const { return lambda_request_per_m; }
    [[nodiscard]] double lambda_duration_cost() const
    {
        return lambda_ms / 1000 * lambda_gb * lambda_price * 1e6;
    }
    [[nodiscard]] double read_cost() const { return rru * rru_per_m; }
    [[nodiscard]] double write_cost() const { return wru * wru_per_m; }
    [[nodiscard]] double minutes_cost() const { return connection_minutes * apigw_minute_per_m; }
    [[nodiscard]] double messages_total() const
    {
        return apigw_cost() + lambda_request_cost() + lambda_duration_cost() + read_cost() + write_cost();
    }
    [[nodiscard]] double total() const { return messages_total() + minutes_cost(); }
};

double per_message(double value, int messages)
{
    return value / static_cast<double>(messages);
}

double modelled_duration_ms(scenario_result const& r)
{
    double ms = handler_cpu_ms;
    for (auto const& [name, t] : r.send.operations) {
        ms += per_message(static_cast<double>(t.requests), r.messages) * latency_ms(name);
    }
    auto const pushes = per_message(static_cast<double>(r.send.pushes), r.messages);
    ms += std::ceil(pushes / post_concurrency) * post_wave_ms;
    return ms;
}

line_items stratus_costs(scenario_result const& r)
{
    line_items c;
    c.apigw_messages =
        per_message(static_cast<double>(r.inbound_units + r.ack_units + r.send.push_units), r.messages);
    c.lambda_ms = modelled_duration_ms(r);
    c.lambda_gb = stratus_memory_gb;
    c.lambda_price = lambda_gb_s_arm64;
    c.rru = per_message(r.send.read_units(), r.messages);
    c.wru = per_message(r.send.write_units(), r.messages);
    c.connection_minutes = r.members * minutes_per_message;
    return c;
}

double sample_scan_rru(double connections_in_table)
{
    return cost::capacity_rules::read_units(
        static_cast<std::uint64_t>(connections_in_table * sample_item_bytes), false);
}

double sample_duration_ms(int members)
{
    return sample_scan_ms + post_wave_ms + sample_cpu_per_post_ms * members + sample_overhead_ms;
}

line_items sample_costs(int members, double connections_in_table)
{
    line_items c;
    c.apigw_messages = 1.0 + members; // inbound + one post per connection; no route response
    c.lambda_ms = sample_duration_ms(members);
    c.lambda_gb = sample_memory_gb;
    c.lambda_price = lambda_gb_s_x86;
    c.rru = sample_scan_rru(connections_in_table);
    c.wru = 0;
    c.connection_minutes = members * minutes_per_message;
    return c;
}

// --- output -----------------------------------------------------------------------

std::string money(double dollars)
{
    if (dollars == 0) {
        return "$0";
    }
    char text[32];
    std::snprintf(text, sizeof text, dollars < 0.1 ? "$%.3f" : "$%.2f", dollars);
    return text;
}

std::string number(double value)
{
    char text[32];
    if (std::abs(value - std::round(value)) < 1e-9) {
        std::snprintf(text, sizeof text, "%.0f", value);
    } else {
        std::snprintf(text, sizeof text, "%.2f", value);
    }
    return text;
}

std::string requests_of(phase const& p, int per, std::string const& operation)
{
    auto const it = p.operations.find(operation);
    if (it == p.operations.end()) {
        return "0";
    }
    return number(per_message(static_cast<double>(it->second.requests), per));
}

void print_report(std::vector<scenario_result> const& results)
{
    std::ostringstream o;
    auto const header = [&](std::string const& first) {
        o << "| " << first << " |";
        for (auto const& r : results) {
            o << " N = " << r.members << " |";
        }
        o << "\n|---|";
        for (std::size_t i = 0; i < results.size(); ++i) {
            o << "---:|";
        }
        o << "\n";
    };
    auto const row = [&](std::string const& name, auto&& cell) {
        o << "| " << name << " |";
        for (auto const& r : results) {
            o << " " << cell(r) << " |";
        }
        o << "\n";
    };

    o << "Measured with `bench/cost.sh` (`stratus_cost_model`): the real `chat_service` + `dynamodb_store`"
         " on moto, "
      << results.front().messages
      << " `sendMessage` frames per room (senders take turns;"
         " "
      << chat_text.size()
      << "-byte text), one warm store (room head cached), every member connected once.\n\n";

    o << "**Per message, counted** (DynamoDB units by the documented rules, not moto's numbers):\n\n";
    header("per `sendMessage`");
    std::set<std::string> names;
    for (auto const& r : results) {
        for (auto const& [name, t] : r.send.operations) {
            names.insert(name);
        }
    }
    for (auto const& name : names) {
        row(name + " requests",
            [&](scenario_result const& r) { return requests_of(r.send, r.messages, name); });
    }
    row("RRU (strongly consistent)", [](scenario_result const& r) {
        std::string parts;
        for (auto const& [name, t] : r.send.operations) {
            if (t.read_units > 0) {
                parts +=
                    (parts.empty() ? "" : " + ") + number(per_message(t.read_units, r.messages)) + " " + name;
            }
        }
        return "**" + number(per_message(r.send.read_units(), r.messages)) + "** (" + parts + ")";
    });
    row("WRU", [](scenario_result const& r) {
        auto const it = r.send.operations.find("TransactWriteItems");
        auto const items = it != r.send.operations.end()
                               ? per_message(static_cast<double>(it->second.items_written), r.messages)
                               : 0.0;
        return "**" + number(per_message(r.send.write_units(), r.messages)) + "** (transaction of " +
               number(items) + " items × 2)";
    });
    row("pushes (PostToConnection)", [](scenario_result const& r) {
        return number(per_message(static_cast<double>(r.send.pushes), r.messages));
    });
    row("API Gateway messages (1 in + 1 ack + pushes; 32 KB units)", [](scenario_result const& r) {
        return number(
            per_message(static_cast<double>(r.inbound_units + r.ack_units + r.send.push_units), r.messages));
    });
    row("bytes: frame in / ack / pushed frame", [](scenario_result const& r) {
        return number(std::round(per_message(static_cast<double>(r.inbound_bytes), r.messages))) + " / " +
               number(std::round(per_message(static_cast<double>(r.ack_bytes), r.messages))) + " / " +
               number(std::round(static_cast<double>(r.send.push_bytes) /
                                 static_cast<double>(std::max<std::uint64_t>(r.send.pushes, 1))));
    });
    row("item bytes: transaction item (avg) / subscription item", [](scenario_result const& r) {
        return number(static_cast<double>(r.message_item_bytes)) + " / " +
               number(static_cast<double>(r.subscription_item_bytes));
    });
    row("moto's own ConsumedCapacity (RRU / WRU; not billing)", [](scenario_result const& r) {
        return number(per_message(r.send.moto_read_units, r.messages)) + " / " +
               number(per_message(r.send.moto_write_units, r.messages));
    });
    row("wall time per message on moto (not AWS latency)",
        [](scenario_result const& r) { return number(std::round(r.wall_ms_per_message * 10) / 10) + " ms"; });

    o << "\n**$ per 1 million messages**, prices from " << prices_as_of
      << ", not re-checked online (no network here). Sample = aws-samples/simple-websockets-chat-app with"
         " the room's connections only in its table (T = N).\n\n";
    o << "| line item |";
    for (auto const& r : results) {
        o << " Stratus, N = " << r.members << " | sample, N = " << r.members << " |";
    }
    o << "\n|---|";
    for (std::size_t i = 0; i < results.size(); ++i) {
        o << "---:|---:|";
    }
    o << "\n";
    auto const cost_row = [&](std::string const& name, auto&& cell) {
        o << "| " << name << " |";
        for (auto const& r : results) {
            o << " " << cell(stratus_costs(r)) << " | " << cell(sample_costs(r.members, r.members)) << " |";
        }
        o << "\n";
    };
    cost_row("API Gateway messages", [](line_items const& c) {
        return money(c.apigw_cost()) + " (" + number(c.apigw_messages) + ")";
    });
    cost_row("Lambda requests", [](line_items const& c) { return money(c.lambda_request_cost()); });
    cost_row("Lambda duration, 256 MB (Stratus arm64, sample x86_64; modelled ms)", [](line_items const& c) {
        return money(c.lambda_duration_cost()) + " (" + number(std::round(c.lambda_ms)) + " ms)";
    });
    cost_row("DynamoDB writes",
             [](line_items const& c) { return money(c.write_cost()) + " (" + number(c.wru) + " WRU)"; });
    cost_row("DynamoDB reads",
             [](line_items const& c) { return money(c.read_cost()) + " (" + number(c.rru) + " RRU)"; });
    cost_row("**total, messages**",
             [](line_items const& c) { return "**" + money(c.messages_total()) + "**"; });
    cost_row("connection minutes (N × 0.1 min per message)",
             [](line_items const& c) { return money(c.minutes_cost()); });
    cost_row("**total with connection minutes**",
             [](line_items const& c) { return "**" + money(c.total()) + "**"; });
    o << "| per million deliveries (total with minutes ÷ N) |";
    for (auto const& r : results) {
        o << " " << money(stratus_costs(r).total() / r.members) << " | "
          << money(sample_costs(r.members, r.members).total() / r.members) << " |";
    }
    o << "\n";

    o << "\nThe sample when its table holds more connections than the room (T connections, a room filter"
         " added, so it still posts to N): Scan RRU = ⌈T × "
      << number(sample_item_bytes)
      << " B / 4 KB⌉ × 0.5; $ per 1M messages without connection minutes (compare with the"
         " \"total, messages\" row).\n\n";
    o << "| T (connections in the sample's table) |";
    for (auto const& r : results) {
        o << " sample, N = " << r.members << " |";
    }
    o << " Stratus |\n|---|";
    for (std::size_t i = 0; i <= results.size(); ++i) {
        o << "---:|";
    }
    o << "\n";
    for (double const t : {1000.0, 10000.0, 100000.0}) {
        o << "| " << number(t) << " (Scan " << number(sample_scan_rru(t)) << " RRU) |";
        for (auto const& r : results) {
            auto c = sample_costs(r.members, t);
            // A 1 MB page holds about 21k items of 50 B: the Scan pages (and waits) more.
            c.lambda_ms += std::floor(t * sample_item_bytes / (1024.0 * 1024.0)) * sample_scan_ms;
            o << " " << money(c.messages_total()) << " |";
        }
        o << " unchanged (no Scan) |\n";
    }

    o << "\n**Setup, per member** (not per message; the same run):\n\n";
    header("per member");
    auto const setup = [&](std::string const& what, phase scenario_result::*which) {
        row(what, [which](scenario_result const& r) {
            phase const& p = r.*which;
            std::string parts;
            for (auto const& [name, t] : p.operations) {
                if (name == "CreateTable" || name == "DescribeTable" || name == "UpdateTimeToLive") {
                    continue;
                }
                parts += (parts.empty() ? "" : ", ") +
                         number(per_message(static_cast<double>(t.requests), r.members)) + " " + name;
            }
            return parts + "; " + number(per_message(p.read_units(), r.members)) + " RRU, " +
                   number(per_message(p.write_units(), r.members)) + " WRU, " +
                   number(per_message(static_cast<double>(p.pushes), r.members)) + " pushes";
        });
    };
    setup("`$connect`", &scenario_result::connect);
    setup("`joinRoom` (presence `online` to the room)", &scenario_result::join);
    std::cout << o.str();
}

std::string env_or(char const* name, std::string fallback)
{
    char const* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

} // namespace

int main(int argc, char** argv)
{
    int messages = 200;
    std::vector<int> rooms{10, 100};
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string const flag = argv[i];
        if (flag == "--messages") {
            messages = std::max(1, std::atoi(argv[i + 1]));
        } else if (flag == "--rooms") {
            rooms.clear();
            std::stringstream list(argv[i + 1]);
            for (std::string item; std::getline(list, item, ',');) {
                rooms.push_back(std::max(1, std::atoi(item.c_str())));
            }
        } else {
            std::cerr << "usage: stratus_cost_model [--messages 200] [--rooms 10,100]\n";
            return 2;
        }
    }
    auto const url = env_or("STRATUS_DYNAMODB_ENDPOINT", "");
    if (url.empty()) {
        std::cerr << "stratus_cost_model: set STRATUS_DYNAMODB_ENDPOINT (run it under "
                     "node tests/integration/dynamodb/moto-stack.mjs -- ...; see bench/cost.sh)\n";
        return 2;
    }
    auto target = aws::endpoint::parse(url);
    if (!target) {
        std::cerr << "stratus_cost_model: not an http(s) URL: " << url << "\n";
        return 2;
    }
    scenario_runner runner(*target, env_or("AWS_ACCESS_KEY_ID", "test"),
                           env_or("AWS_SECRET_ACCESS_KEY", "test"), env_or("AWS_REGION", "us-east-1"));
    std::vector<scenario_result> results;
    for (int const members : rooms) {
        std::cerr << "room of " << members << ": connect, join, " << messages << " messages...\n";
        auto result = runner.run(members, messages);
        if (!result) {
            std::cerr << "stratus_cost_model: room of " << members << ": " << result.error().detail << "\n";
            return 1;
        }
        results.push_back(std::move(*result));
    }
    print_report(results);
    return 0;
}
