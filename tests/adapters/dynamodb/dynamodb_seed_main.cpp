// Writes a small, known data set through dynamodb_store so that another client
// (the AWS SDK for JavaScript, in tests/integration/node/dynamodb-interop.test.mjs)
// can read what Stratus wrote and check the item shapes.
//
//   stratus_dynamodb_seed <endpoint-url> <table-prefix>
//
// Prints one JSON line describing what was written; exit 0 on success.
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "adapters/dynamodb/dynamodb_endpoint_env.hpp"
#include "adapters/dynamodb/dynamodb_store.hpp"
#include "adapters/dynamodb/dynamodb_tables.hpp"

namespace {

int failure(std::string const& what)
{
    std::cerr << "stratus_dynamodb_seed: " << what << "\n";
    return 1;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 3) {
        return failure("usage: stratus_dynamodb_seed <endpoint-url> <table-prefix>");
    }
    std::string const url = argv[1];
    std::string const prefix = argv[2];
    std::string why;
    auto endpoint = stratus::dynamodb::testing::endpoint_client::connect(url, why);
    if (!endpoint) {
        return failure(why);
    }
    if (auto created = stratus::dynamodb::create_tables(*endpoint->client, prefix); !created) {
        return failure("create_tables: " + created.error().detail);
    }
    stratus::dynamodb_store_options options;
    options.table_prefix = prefix;
    stratus::dynamodb_store store(*endpoint->client, options);

    constexpr std::int64_t now_ms = 1'700'000'000'000;
    constexpr std::int64_t expires_at_s = 1'700'000'000 + 2 * 3600;
    stratus::connection_record const connection{"conn-1", stratus::identity{"alice", "Alice 🦊"}, now_ms,
                                                expires_at_s, "https://gw-a.example/local"};
    if (auto put = store.put_connection(connection); !put) {
        return failure("put_connection: " + put.error().detail);
    }
    if (auto joined = store.join_room("lobby", connection, now_ms); !joined) {
        return failure("join_room: " + joined.error().detail);
    }
    std::int64_t last = 0;
    for (int i = 1; i <= 2; ++i) {
        stratus::new_message m;
        m.room = "lobby";
        m.from = connection.user;
        m.text = "hello " + std::to_string(i) + " ✓";
        m.client_msg_id = "cm-" + std::to_string(i);
        m.id = "msg-" + std::to_string(i);
        m.ts_ms = now_ms + i;
        m.dedupe_expires_at_s = 1'700'000'000 + 24 * 3600;
        auto appended = store.append_message(m);
        if (!appended) {
            return failure("append_message: " + appended.error().detail);
        }
        last = appended->message.seq;
    }
    if (auto read = store.mark_read("lobby", "alice", 1); !read) {
        return failure("mark_read: " + read.error().detail);
    }
    auto const capacity = store.capacity_totals();
    auto const tables = store.tables();
    std::cout << nlohmann::json{{"prefix", prefix},
                                {"connectionsTable", tables.connections},
                                {"messagesTable", tables.messages},
                                {"room", "lobby"},
                                {"connectionId", connection.connection_id},
                                {"userId", connection.user.user_id},
                                {"lastSeq", last},
                                {"readUnits", capacity.read_units},
                                {"writeUnits", capacity.write_units}}
                     .dump()
              << std::endl;
    return 0;
}
