// Test-only peer for tests/integration/node/sigv4-crosscheck.test.mjs: signs one
// request with sigv4_signer and prints what the signer added, as JSON.
//
// stdin:  {"method","target","headers":[[k,v],...],"body","host","accessKeyId",
//          "secretAccessKey","sessionToken","region","service","amzDate":"20150830T123600Z"}
// stdout: {"added":[[k,v],...],"authorization":"...","canonicalRequest":"..."}
// Exit 2 on malformed input (message on stderr).

#include <algorithm>
#include <exception>
#include <iostream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/aws/http_message.hpp"
#include "adapters/aws/sigv4_canonical.hpp"
#include "adapters/aws/sigv4_signer.hpp"

namespace {

using stratus::aws::aws_credentials;
using stratus::aws::http_request;
using stratus::aws::sigv4_canonical;

int run()
{
    std::string const input{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
    auto const json = nlohmann::json::parse(input);

    http_request request;
    request.method = json.at("method").get<std::string>();
    request.target = json.at("target").get<std::string>();
    request.body = json.value("body", std::string{});
    for (auto const& header : json.value("headers", nlohmann::json::array())) {
        request.headers.emplace_back(header.at(0).get<std::string>(), header.at(1).get<std::string>());
    }
    auto const host = json.at("host").get<std::string>();
    aws_credentials credentials{json.at("accessKeyId").get<std::string>(),
                                json.at("secretAccessKey").get<std::string>(),
                                json.value("sessionToken", std::string{})};
    auto const amz_date = json.at("amzDate").get<std::string>();
    auto const now = sigv4_canonical::parse_amz_date(amz_date);
    if (!now) {
        std::cerr << "sigv4_sign_tool: bad amzDate '" << amz_date << "'\n";
        return 2;
    }

    auto const before = request.headers;
    stratus::aws::sigv4_signer signer(credentials, json.at("region").get<std::string>(),
                                      json.at("service").get<std::string>());
    signer.sign(request, host, *now);

    // "Added": every header that is new or whose value changed (Host may be replaced).
    nlohmann::json added = nlohmann::json::array();
    for (auto const& header : request.headers) {
        if (std::find(before.begin(), before.end(), header) == before.end()) {
            added.push_back({header.first, header.second});
        }
    }

    // For diagnostics only: the canonical request of what was signed.
    auto context = stratus::aws::sigv4_context{credentials, signer.region(), signer.service(), amz_date};
    context.normalize_path = context.double_encode_path = signer.service() != "s3";
    auto const steps = sigv4_canonical::sign_headers(
        stratus::aws::sigv4_request_view{request.method, request.target, request.headers, request.body},
        context);

    nlohmann::json output{{"added", added},
                          {"authorization", std::string(request.header("Authorization").value_or(""))},
                          {"canonicalRequest", steps.canonical_request}};
    std::cout << output.dump() << '\n';
    return 0;
}

} // namespace

int main()
{
    try {
        return run();
    } catch (std::exception const& e) {
        std::cerr << "sigv4_sign_tool: " << e.what() << '\n';
        return 2;
    }
}
