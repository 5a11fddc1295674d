#include "adapters/aws/sigv4_signer.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "adapters/aws/aws_credentials.hpp"
#include "adapters/aws/http_message.hpp"
#include "adapters/aws/sigv4_canonical.hpp"

namespace {

namespace fs = std::filesystem;
using stratus::errc;
using stratus::aws::aws_credentials;
using stratus::aws::http_request;
using stratus::aws::sigv4_canonical;
using stratus::aws::sigv4_context;
using stratus::aws::sigv4_request_view;
using stratus::aws::sigv4_signer;

constexpr std::string_view example_key_id = "AKIDEXAMPLE";
constexpr std::string_view example_secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr std::string_view example_date = "20150830T123600Z";
constexpr std::string_view missing_folder_case = "VectorsFolderMissing";

// ---------------------------------------------------------------------------
// The official suite (aws-c-auth tests/aws-signing-test-suite/v4), read in place.
// ---------------------------------------------------------------------------

fs::path vectors_dir()
{
    if (char const* from_env = std::getenv("STRATUS_SIGV4_VECTORS");
        from_env != nullptr && *from_env != '\0') {
        return from_env;
    }
#ifdef STRATUS_SHARED_VECTORS
    return STRATUS_SHARED_VECTORS;
#else
    return {};
#endif
}

/// Every case folder, sorted; one placeholder when the folder is absent, so the
/// absence shows up as a skipped test instead of an empty (silently green) suite.
std::vector<std::string> case_names()
{
    std::vector<std::string> names;
    std::error_code ec;
    auto const dir = vectors_dir();
    if (dir.empty() || !fs::is_directory(dir, ec)) {
        return {std::string(missing_folder_case)};
    }
    for (auto const& entry : fs::directory_iterator(dir, ec)) {
        if (entry.is_directory()) {
            names.push_back(entry.path().filename().string());
        }
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<std::string> read_file(fs::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A raw HTTP/1.1 request as the suite writes it: request line, headers (obs-fold
/// continuation lines are kept, joined with '\n', for the signer to collapse),
/// blank line, body.
struct raw_request {
    std::string method;
    std::string target;
    std::string version;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

raw_request parse_request(std::string_view text)
{
    raw_request out;
    auto next_line = [&text]() {
        auto const newline = text.find('\n');
        auto line = text.substr(0, newline);
        text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
        if (line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        return line;
    };
    // The target may hold spaces ("/example space/"): the version is after the last one.
    auto const request_line = next_line();
    auto const first_space = request_line.find(' ');
    auto const last_space = request_line.rfind(' ');
    out.method = std::string(request_line.substr(0, first_space));
    out.target = std::string(request_line.substr(first_space + 1, last_space - first_space - 1));
    out.version = std::string(request_line.substr(last_space + 1));
    while (!text.empty()) {
        auto const line = next_line();
        if (line.empty()) {
            out.body = std::string(text);
            break;
        }
        if ((line.front() == ' ' || line.front() == '\t') && !out.headers.empty()) {
            out.headers.back().second += "\n" + std::string(line);
            continue;
        }
        auto const colon = line.find(':');
        out.headers.emplace_back(std::string(line.substr(0, colon)),
                                 colon == std::string_view::npos ? std::string{}
                                                                 : std::string(line.substr(colon + 1)));
    }
    return out;
}

/// The line of `text` that starts with `prefix`, or "" if none.
std::string line_starting_with(std::string_view text, std::string_view prefix)
{
    std::size_t start = 0;
    while (start < text.size()) {
        auto const newline = text.find('\n', start);
        auto const line = text.substr(start, newline == std::string_view::npos ? text.npos : newline - start);
        if (line.starts_with(prefix)) {
            return std::string(line);
        }
        if (newline == std::string_view::npos) {
            break;
        }
        start = newline + 1;
    }
    return {};
}

std::string first_line(std::string_view text)
{
    return std::string(text.substr(0, text.find('\n')));
}

/// One loaded case folder.
struct vector_case {
    fs::path dir;
    nlohmann::json context_json;
    sigv4_context context;
    raw_request request;
    int expires_seconds = 3600;

    std::string expected(std::string const& file) const
    {
        auto content = read_file(dir / file);
        EXPECT_TRUE(content.has_value()) << "missing " << (dir / file);
        return content.value_or("");
    }
};

/// Loads the case folder `name`; a missing file fails the test.
std::optional<vector_case> load_case(std::string const& name)
{
    vector_case out;
    out.dir = vectors_dir() / name;
    auto const context_text = read_file(out.dir / "context.json");
    auto const request_text = read_file(out.dir / "request.txt");
    EXPECT_TRUE(context_text && request_text) << "context.json or request.txt missing in " << out.dir;
    if (!context_text || !request_text) {
        return std::nullopt;
    }
    out.context_json = nlohmann::json::parse(*context_text);
    auto const& json = out.context_json;
    auto const& credentials = json.at("credentials");
    out.context.credentials = aws_credentials{credentials.at("access_key_id").get<std::string>(),
                                              credentials.at("secret_access_key").get<std::string>(),
                                              credentials.value("token", std::string{})};
    out.context.region = json.at("region").get<std::string>();
    out.context.service = json.at("service").get<std::string>();
    // "2015-08-30T12:36:00Z" -> "20150830T123600Z"
    auto timestamp = json.at("timestamp").get<std::string>();
    std::erase_if(timestamp, [](char c) { return c == '-' || c == ':'; });
    out.context.amz_date = timestamp;
    out.context.normalize_path = json.value("normalize", true);
    out.context.double_encode_path = true; // the suite's service is not S3
    out.context.omit_session_token = json.value("omit_session_token", false);
    out.expires_seconds = json.value("expiration_in_seconds", 3600);
    out.request = parse_request(*request_text);
    return out;
}

std::string case_test_name(testing::TestParamInfo<std::string> const& info)
{
    std::string name = info.param;
    std::replace_if(
        name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return name;
}

class Sigv4HeaderVector : public testing::TestWithParam<std::string> {};
class Sigv4QueryVector : public testing::TestWithParam<std::string> {};

std::string missing_vectors_message()
{
    return "SigV4 test vectors not found at '" + vectors_dir().string() +
           "' (set STRATUS_SIGV4_VECTORS, or check out ../shared next to the source tree)";
}

TEST_P(Sigv4HeaderVector, MatchesOfficialSuite)
{
    if (GetParam() == missing_folder_case) {
        GTEST_SKIP() << missing_vectors_message();
    }
    auto loaded = load_case(GetParam());
    ASSERT_TRUE(loaded.has_value());
    auto const& vc = *loaded;

    // sign_body: the client sends x-amz-content-sha256 (S3 style); the signer uses and signs it.
    auto headers = vc.request.headers;
    if (vc.context_json.value("sign_body", false)) {
        headers.emplace_back("x-amz-content-sha256", sigv4_canonical::hex_sha256(vc.request.body));
    }
    auto const result = sigv4_canonical::sign_headers(
        sigv4_request_view{vc.request.method, vc.request.target, headers, vc.request.body}, vc.context);

    EXPECT_EQ(result.canonical_request, vc.expected("header-canonical-request.txt"));
    EXPECT_EQ(result.string_to_sign, vc.expected("header-string-to-sign.txt"));
    EXPECT_EQ(result.signature, vc.expected("header-signature.txt"));
    auto const signed_text = vc.expected("header-signed-request.txt");
    EXPECT_EQ("Authorization:" + result.authorization, line_starting_with(signed_text, "Authorization:"));

    // The production path (sigv4_signer::sign) on the same request must produce the
    // suite's signed request: same headers (order aside) and body. It always
    // normalizes and signs the token, so the cases that turn those off are checked above only.
    if (!vc.context.normalize_path || vc.context.omit_session_token) {
        return;
    }
    http_request request{vc.request.method, vc.request.target, headers, vc.request.body};
    auto const host = request.header("Host");
    ASSERT_TRUE(host.has_value());
    auto const now = sigv4_canonical::parse_amz_date(vc.context.amz_date);
    ASSERT_TRUE(now.has_value());
    sigv4_signer(vc.context.credentials, vc.context.region, vc.context.service)
        .sign(request, std::string(*host), *now);

    auto expected = parse_request(signed_text);
    auto actual = request.headers;
    std::sort(expected.headers.begin(), expected.headers.end());
    std::sort(actual.begin(), actual.end());
    EXPECT_EQ(actual, expected.headers);
    EXPECT_EQ(request.target, expected.target);
    EXPECT_EQ(request.body, expected.body);
}

TEST_P(Sigv4QueryVector, MatchesOfficialSuite)
{
    if (GetParam() == missing_folder_case) {
        GTEST_SKIP() << missing_vectors_message();
    }
    auto loaded = load_case(GetParam());
    ASSERT_TRUE(loaded.has_value());
    auto const& vc = *loaded;

    auto const result = sigv4_canonical::sign_query(
        sigv4_request_view{vc.request.method, vc.request.target, vc.request.headers, vc.request.body},
        vc.context, vc.expires_seconds);

    EXPECT_EQ(result.canonical_request, vc.expected("query-canonical-request.txt"));
    EXPECT_EQ(result.string_to_sign, vc.expected("query-string-to-sign.txt"));
    EXPECT_EQ(result.signature, vc.expected("query-signature.txt"));
    // The whole pre-signed request line, parameter order included.
    EXPECT_EQ(vc.request.method + " " + result.presigned_target + " " + vc.request.version,
              first_line(vc.expected("query-signed-request.txt")));
}

INSTANTIATE_TEST_SUITE_P(Suite, Sigv4HeaderVector, testing::ValuesIn(case_names()), case_test_name);
INSTANTIATE_TEST_SUITE_P(Suite, Sigv4QueryVector, testing::ValuesIn(case_names()), case_test_name);

// ---------------------------------------------------------------------------
// Unit tests that need no files.
// ---------------------------------------------------------------------------

sigv4_context example_context(std::string service = "service", std::string token = {})
{
    return sigv4_context{
        aws_credentials{std::string(example_key_id), std::string(example_secret), std::move(token)},
        "us-east-1",
        std::move(service),
        std::string(example_date),
        true,
        true,
        false};
}

std::chrono::system_clock::time_point example_time()
{
    return *sigv4_canonical::parse_amz_date(example_date);
}

TEST(Sigv4Signer, GetVanillaSignature)
{
    http_request request{"GET", "/", {}, ""};
    sigv4_signer(aws_credentials{std::string(example_key_id), std::string(example_secret), ""}, "us-east-1",
                 "service")
        .sign(request, "example.amazonaws.com", example_time());

    EXPECT_EQ(request.header("Host"), "example.amazonaws.com");
    EXPECT_EQ(request.header("X-Amz-Date"), "20150830T123600Z");
    EXPECT_FALSE(request.header("X-Amz-Security-Token").has_value());
    EXPECT_EQ(request.header("Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(Sigv4Signer, SessionTokenIsSentAndSigned)
{
    http_request request{"GET", "/", {}, ""};
    sigv4_signer signer(aws_credentials{std::string(example_key_id), std::string(example_secret),
                                        "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"},
                        "us-east-1", "service");
    signer.sign(request, "example.amazonaws.com", example_time());

    EXPECT_EQ(request.header("X-Amz-Security-Token"),
              "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267");
    // get-vanilla-with-session-token's signature (trust .authz/header-signature, not the legacy .sreq).
    EXPECT_EQ(request.header("Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date;x-amz-security-token, "
              "Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8");
}

TEST(Sigv4Signer, ResigningReplacesEarlierSignatureHeaders)
{
    http_request request{"POST", "/dev/@connections/abc%3D", {{"host", "stale.example"}}, "{}"};
    sigv4_signer signer(aws_credentials{"AKID", "secret", "token"}, "eu-west-1", "execute-api");
    signer.sign(request, "api.example", example_time());
    auto const first = request.headers;
    signer.sign(request, "api.example", example_time());

    EXPECT_EQ(request.headers, first);
    ASSERT_EQ(request.headers.size(), 4U); // host, X-Amz-Security-Token, X-Amz-Date, Authorization
    EXPECT_EQ(request.headers[0], (std::pair<std::string, std::string>{"host", "api.example"}));
}

TEST(Sigv4Canonical, ConnectionsPathIsEncodedTwice)
{
    EXPECT_EQ(sigv4_canonical::canonical_uri("/prod/@connections/abc%3D", true, true),
              "/prod/%40connections/abc%253D");
    // S3 style: the wire path as is.
    EXPECT_EQ(sigv4_canonical::canonical_uri("/prod/@connections/abc%3D", false, false),
              "/prod/@connections/abc%3D");

    std::vector<stratus::aws::sigv4_header> const headers{
        {"Host", "abc.execute-api.us-east-1.amazonaws.com"}};
    auto const request = sigv4_canonical::canonical_request("POST", "/prod/@connections/abc%3D", headers,
                                                            sigv4_canonical::hex_sha256("hi"), true, true);
    EXPECT_EQ(request.substr(0, request.find('\n', 5)), "POST\n/prod/%40connections/abc%253D");
}

TEST(Sigv4Canonical, PathNormalization)
{
    EXPECT_EQ(sigv4_canonical::canonical_uri("", true, true), "/");
    EXPECT_EQ(sigv4_canonical::canonical_uri("/a/b/../c/./d//", true, true), "/a/c/d/");
    EXPECT_EQ(sigv4_canonical::canonical_uri("/a/b/..", true, true), "/a"); // botocore and smithy agree
    EXPECT_EQ(sigv4_canonical::canonical_uri("/../..", true, true), "/");
    EXPECT_EQ(sigv4_canonical::canonical_uri("//a//b", false, true), "//a//b");
    EXPECT_EQ(sigv4_canonical::canonical_uri("/caf\xc3\xa9 x+y", true, true), "/caf%C3%A9%20x%2By");
}

TEST(Sigv4Canonical, QueryIsDecodedReencodedAndSorted)
{
    EXPECT_EQ(sigv4_canonical::canonical_query(""), "");
    EXPECT_EQ(sigv4_canonical::canonical_query("b=2&a=3&a=1&c&d="), "a=1&a=3&b=2&c=&d=");
    EXPECT_EQ(sigv4_canonical::canonical_query("k=%3d%20x&sp=a b&&x=a=b"), "k=%3D%20x&sp=a%20b&x=a%3Db");
    EXPECT_EQ(sigv4_canonical::canonical_query("bad=%zz%4"), "bad=%25zz%254");
    // Sorted by key first ("Param" < "Param-3"), not by the joined "k=v" string.
    EXPECT_EQ(sigv4_canonical::canonical_query("Param-3=1&Param=2"), "Param=2&Param-3=1");
}

TEST(Sigv4Canonical, HeadersAreTrimmedCollapsedJoinedAndFiltered)
{
    std::vector<stratus::aws::sigv4_header> const headers{{"Host", "h"},
                                                          {"X-Multi", "  a  "},
                                                          {"x-multi", "b\n   c"},
                                                          {"User-Agent", "curl"},
                                                          {"X-Amzn-Trace-Id", "1"},
                                                          {"Content-Type", "a   b"},
                                                          {"Proxy-Authorization", "x"}};
    EXPECT_EQ(sigv4_canonical::canonical_headers(headers), "content-type:a b\nhost:h\nx-multi:a,b c\n");
    EXPECT_EQ(sigv4_canonical::signed_headers(headers), "content-type;host;x-multi");
}

TEST(Sigv4Canonical, PayloadHashPrefersContentSha256Header)
{
    std::vector<stratus::aws::sigv4_header> const plain{{"Host", "h"}};
    std::vector<stratus::aws::sigv4_header> const unsigned_payload{
        {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}};
    EXPECT_EQ(sigv4_canonical::payload_hash(plain, ""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sigv4_canonical::payload_hash(plain, "Param1=value1"),
              "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
    EXPECT_EQ(sigv4_canonical::payload_hash(unsigned_payload, "x"), "UNSIGNED-PAYLOAD");
}

TEST(Sigv4Canonical, OmittedSessionTokenIsSentButNotSigned)
{
    std::vector<stratus::aws::sigv4_header> const headers{{"Host", "example.amazonaws.com"}};
    auto context = example_context("service", "tok");
    context.omit_session_token = true;
    auto const result = sigv4_canonical::sign_headers(sigv4_request_view{"GET", "/", headers, ""}, context);
    EXPECT_EQ(result.signed_headers, "host;x-amz-date");
    EXPECT_EQ(result.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    ASSERT_EQ(result.added_headers.size(), 3U);
    EXPECT_EQ(result.added_headers[0], (stratus::aws::sigv4_header{"X-Amz-Security-Token", "tok"}));
}

TEST(Sigv4Canonical, QuerySigningKeepsTargetAndAppendsParameters)
{
    std::vector<stratus::aws::sigv4_header> const headers{{"Host", "example.amazonaws.com"}};
    auto const result =
        sigv4_canonical::sign_query(sigv4_request_view{"GET", "/", headers, ""}, example_context(), 3600);
    EXPECT_EQ(result.signature,
              "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d"); // get-vanilla
    EXPECT_TRUE(result.authorization.empty());
    auto const with_query =
        sigv4_canonical::sign_query(sigv4_request_view{"GET", "/p?", headers, ""}, example_context(), 60);
    EXPECT_TRUE(with_query.presigned_target.starts_with("/p?X-Amz-Algorithm=AWS4-HMAC-SHA256&"))
        << with_query.presigned_target;
}

TEST(Sigv4Canonical, AmzDateRoundTrip)
{
    auto const time = sigv4_canonical::parse_amz_date("20240229T235959Z");
    ASSERT_TRUE(time.has_value());
    EXPECT_EQ(sigv4_canonical::amz_date(*time + std::chrono::milliseconds(999)), "20240229T235959Z");
    EXPECT_EQ(sigv4_canonical::amz_date(std::chrono::system_clock::time_point{}), "19700101T000000Z");
    EXPECT_FALSE(sigv4_canonical::parse_amz_date("20230229T000000Z").has_value());
    EXPECT_FALSE(sigv4_canonical::parse_amz_date("2015-08-30T12:36:00Z").has_value());
    EXPECT_FALSE(sigv4_canonical::parse_amz_date("20150830T246000Z").has_value());
}

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

/// Sets or unsets variables for one test and restores the previous values.
class env_guard {
public:
    env_guard() = default;
    env_guard(env_guard const&) = delete;
    env_guard& operator=(env_guard const&) = delete;
    ~env_guard()
    {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            if (it->second) {
                ::setenv(it->first.c_str(), it->second->c_str(), 1);
            } else {
                ::unsetenv(it->first.c_str());
            }
        }
    }

    void set(std::string const& name, char const* value)
    {
        char const* old = std::getenv(name.c_str());
        saved_.emplace_back(name, old == nullptr ? std::nullopt : std::optional<std::string>(old));
        if (value == nullptr) {
            ::unsetenv(name.c_str());
        } else {
            ::setenv(name.c_str(), value, 1);
        }
    }

private:
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST(AwsCredentials, ReadsKeysAndOptionalToken)
{
    env_guard env;
    env.set("AWS_ACCESS_KEY_ID", "AKID");
    env.set("AWS_SECRET_ACCESS_KEY", "secret");
    env.set("AWS_SESSION_TOKEN", nullptr);
    auto const plain = stratus::aws::credentials_from_environment();
    ASSERT_TRUE(plain.has_value()) << plain.error().detail;
    EXPECT_EQ(plain->access_key_id, "AKID");
    EXPECT_EQ(plain->secret_access_key, "secret");
    EXPECT_EQ(plain->session_token, "");

    env.set("AWS_SESSION_TOKEN", "token");
    auto const temporary = stratus::aws::credentials_from_environment();
    ASSERT_TRUE(temporary.has_value());
    EXPECT_EQ(temporary->session_token, "token");
}

TEST(AwsCredentials, MissingOrEmptyKeysAreErrorsNamingTheVariable)
{
    env_guard env;
    env.set("AWS_ACCESS_KEY_ID", nullptr);
    env.set("AWS_SECRET_ACCESS_KEY", "secret");
    auto const no_id = stratus::aws::credentials_from_environment();
    ASSERT_FALSE(no_id.has_value());
    EXPECT_EQ(no_id.error().code, errc::invalid_request);
    EXPECT_NE(no_id.error().detail.find("AWS_ACCESS_KEY_ID"), std::string::npos);

    env.set("AWS_ACCESS_KEY_ID", "AKID");
    env.set("AWS_SECRET_ACCESS_KEY", "");
    auto const empty_secret = stratus::aws::credentials_from_environment();
    ASSERT_FALSE(empty_secret.has_value());
    EXPECT_EQ(empty_secret.error().code, errc::invalid_request);
    EXPECT_NE(empty_secret.error().detail.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
}

TEST(AwsCredentials, RegionPrefersAwsRegion)
{
    env_guard env;
    env.set("AWS_REGION", "eu-west-1");
    env.set("AWS_DEFAULT_REGION", "us-east-2");
    EXPECT_EQ(stratus::aws::region_from_environment().value_or(""), "eu-west-1");

    env.set("AWS_REGION", nullptr);
    EXPECT_EQ(stratus::aws::region_from_environment().value_or(""), "us-east-2");

    env.set("AWS_DEFAULT_REGION", nullptr);
    auto const none = stratus::aws::region_from_environment();
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().code, errc::invalid_request);
}

} // namespace
