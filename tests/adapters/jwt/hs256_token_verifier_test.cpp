#include "adapters/jwt/hs256_token_verifier.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "adapters/jwt/hs256_token_issuer.hpp"

namespace {

using nlohmann::json;
using stratus::errc;
using stratus::hs256_token_verifier;
using stratus::identity;

constexpr std::int64_t now_s = 1'700'000'000;
constexpr std::string_view secret = "8d2f4c6a0b1e3957d8c2a4f6e0b1d3c5a7e9f1b3d5c7a9e1f3b5d7c9a1e3f5b7";
constexpr std::string_view issuer = "stratus-dev";
constexpr std::string_view audience = "stratus";

class fake_clock final : public stratus::clock {
public:
    explicit fake_clock(std::int64_t ms) : ms_(ms) {}
    std::int64_t now_ms() override { return ms_; }
    void set_ms(std::int64_t ms) { ms_ = ms; }

private:
    std::int64_t ms_;
};

// Independent of the code under test: OpenSSL's base64, then the URL alphabet without padding.
std::string b64url(std::string_view bytes)
{
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int const n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<unsigned char const*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    while (!out.empty() && out.back() == '=') {
        out.pop_back();
    }
    for (char& ch : out) {
        if (ch == '+') {
            ch = '-';
        } else if (ch == '/') {
            ch = '_';
        }
    }
    return out;
}

std::string hmac(EVP_MD const* md, std::string_view key, std::string_view data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    static constexpr unsigned char empty_key = 0;
    void const* key_ptr = key.empty() ? static_cast<void const*>(&empty_key) : key.data();
    HMAC(md, key_ptr, static_cast<int>(key.size()), reinterpret_cast<unsigned char const*>(data.data()),
         data.size(), mac, &len);
    return std::string(reinterpret_cast<char const*>(mac), len);
}

/// header.payload with the given raw JSON texts (so that duplicate keys survive).
std::string signing_input(std::string_view header_json, std::string_view payload_json)
{
    return b64url(header_json) + "." + b64url(payload_json);
}

std::string sign(std::string const& input, std::string_view key = secret, EVP_MD const* md = EVP_sha256())
{
    return input + "." + b64url(hmac(md, key, input));
}

std::string forge(std::string_view header_json, std::string_view payload_json, std::string_view key = secret,
                  EVP_MD const* md = EVP_sha256())
{
    return sign(signing_input(header_json, payload_json), key, md);
}

json claims()
{
    return json{{"iss", issuer},     {"aud", audience},   {"sub", "u_0123456789abcdef"}, {"name", "Alice"},
                {"iat", now_s - 10}, {"nbf", now_s - 10}, {"exp", now_s + 3600}};
}

json with(std::string const& claim, json value)
{
    json c = claims();
    c[claim] = std::move(value);
    return c;
}

json without(std::string const& claim)
{
    json c = claims();
    c.erase(claim);
    return c;
}

constexpr std::string_view hs256_header = R"({"alg":"HS256","typ":"JWT"})";

std::string token_with(json const& payload, std::string_view header = hs256_header)
{
    return forge(header, payload.dump());
}

std::string valid_token()
{
    return token_with(claims());
}

std::vector<std::string> split(std::string const& token)
{
    std::vector<std::string> parts(1);
    for (char ch : token) {
        if (ch == '.') {
            parts.emplace_back();
        } else {
            parts.back().push_back(ch);
        }
    }
    return parts;
}

/// Replaces the character at `pos` with a different base64url character.
std::string flip(std::string text, std::size_t pos)
{
    text.at(pos) = text.at(pos) == 'A' ? 'B' : 'A';
    return text;
}

class verifier_fixture {
protected:
    fake_clock clock_{now_s * 1000 + 500};
    hs256_token_verifier verifier_{std::string(secret), std::string(issuer), std::string(audience), clock_};
};

// ---------------------------------------------------------------------------
// Accepted tokens
// ---------------------------------------------------------------------------

class Hs256TokenVerifier : public ::testing::Test, protected verifier_fixture {};

TEST_F(Hs256TokenVerifier, AcceptsValidToken)
{
    auto const who = verifier_.verify(valid_token());
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->user_id, "u_0123456789abcdef");
    EXPECT_EQ(who->name, "Alice");
}

TEST_F(Hs256TokenVerifier, AcceptsTokenWithoutTyp)
{
    auto const who = verifier_.verify(token_with(claims(), R"({"alg":"HS256"})"));
    ASSERT_TRUE(who.has_value()) << who.error().detail;
}

TEST_F(Hs256TokenVerifier, AcceptsUnicodeName)
{
    auto const who = verifier_.verify(token_with(with("name", "Zoë 日本")));
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(who->name, "Zoë 日本");
}

TEST_F(Hs256TokenVerifier, AcceptsExpJustInsideLeeway)
{
    // now < exp + 60 s: 59 s after exp is still accepted, 60 s is not.
    EXPECT_TRUE(verifier_.verify(token_with(with("exp", now_s - 59))).has_value());
    EXPECT_FALSE(verifier_.verify(token_with(with("exp", now_s - 60))).has_value());
}

TEST_F(Hs256TokenVerifier, AcceptsNbfJustInsideLeeway)
{
    EXPECT_TRUE(verifier_.verify(token_with(with("nbf", now_s + 60))).has_value());
    EXPECT_FALSE(verifier_.verify(token_with(with("nbf", now_s + 61))).has_value());
}

TEST_F(Hs256TokenVerifier, UsesInjectedClockNotSystemClock)
{
    // A token that expired long ago in real time is valid at the injected time, and the
    // same token is refused once the injected clock passes exp + leeway.
    auto const token = token_with(with("exp", now_s + 100));
    EXPECT_TRUE(verifier_.verify(token).has_value());
    clock_.set_ms((now_s + 100 + 60) * 1000);
    auto const late = verifier_.verify(token);
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code, errc::unauthorized);
}

TEST_F(Hs256TokenVerifier, AcceptsTokenFromIssuer)
{
    stratus::hs256_token_issuer const issuer_under_test{std::string(secret), std::string(issuer),
                                                        std::string(audience)};
    identity const bob{"u_bob", "Bob"};
    auto const token = issuer_under_test.issue(bob, now_s, 3600);
    ASSERT_TRUE(token.has_value()) << token.error().detail;
    auto const who = verifier_.verify(*token);
    ASSERT_TRUE(who.has_value()) << who.error().detail;
    EXPECT_EQ(*who, bob);
}

// ---------------------------------------------------------------------------
// Refused configurations and special cases
// ---------------------------------------------------------------------------

TEST_F(Hs256TokenVerifier, VerifierWithEmptySecretRefusesEverything)
{
    hs256_token_verifier blank{"", std::string(issuer), std::string(audience), clock_};
    auto const forged = forge(hs256_header, claims().dump(), "");
    auto const result = blank.verify(forged);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, errc::unauthorized);
    EXPECT_FALSE(blank.verify(valid_token()).has_value());
}

TEST_F(Hs256TokenVerifier, VerifierWithShortSecretRefusesEverything)
{
    hs256_token_verifier weak{"password", std::string(issuer), std::string(audience), clock_};
    EXPECT_FALSE(weak.verify(forge(hs256_header, claims().dump(), "password")).has_value());
}

TEST_F(Hs256TokenVerifier, CorrectlySignedDuplicateAudIsRefused)
{
    // RFC 7515 §5.2 lets a parser either refuse duplicate member names or take the last
    // one. We refuse, even when the token is correctly signed, so that nobody (not even a
    // buggy issuer) can smuggle a second value past a different parser.
    std::string const payload = R"({"iss":"stratus-dev","aud":"other","aud":"stratus","sub":"u_x",)"
                                R"("name":"Alice","iat":1699999990,"nbf":1699999990,"exp":1700003600})";
    auto const result = verifier_.verify(forge(hs256_header, payload));
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, errc::unauthorized);
    EXPECT_NE(result.error().detail.find("duplicate"), std::string::npos) << result.error().detail;
}

TEST_F(Hs256TokenVerifier, ReasonsAreShortAndDoNotEchoTheToken)
{
    auto const token = flip(valid_token(), valid_token().size() - 10);
    auto const result = verifier_.verify(token);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().detail, "bad signature");
}

TEST_F(Hs256TokenVerifier, EverySingleByteMutationIsRefused)
{
    std::string const valid = valid_token();
    ASSERT_TRUE(verifier_.verify(valid).has_value());
    std::string const replacements("\0.=+/-_Aa9 \x7f\x80\xff", 14);
    for (std::size_t pos = 0; pos < valid.size(); ++pos) {
        for (char replacement : replacements) {
            if (replacement == valid[pos]) {
                continue;
            }
            std::string mutated = valid;
            mutated[pos] = replacement;
            auto const result = verifier_.verify(mutated);
            ASSERT_FALSE(result.has_value()) << "byte " << pos << " -> " << static_cast<int>(replacement);
            EXPECT_EQ(result.error().code, errc::unauthorized);
        }
    }
}

TEST_F(Hs256TokenVerifier, EveryTruncationIsRefused)
{
    std::string const valid = valid_token();
    for (std::size_t length = 0; length < valid.size(); ++length) {
        EXPECT_FALSE(verifier_.verify(std::string_view(valid).substr(0, length)).has_value()) << length;
    }
}

// ---------------------------------------------------------------------------
// The attack set: every row is refused with errc::unauthorized while the control
// token is accepted by the same verifier.
// ---------------------------------------------------------------------------

struct attack {
    std::string name;
    std::string token;
};

std::string repeat(std::string_view unit, std::size_t times)
{
    std::string out;
    for (std::size_t i = 0; i < times; ++i) {
        out += unit;
    }
    return out;
}

std::vector<attack> attacks()
{
    std::string const valid = valid_token();
    auto const parts = split(valid);
    std::string const& header_b64 = parts[0];
    std::string const& payload_b64 = parts[1];
    std::string const& signature_b64 = parts[2];
    std::string const payload_json = claims().dump();

    std::vector<attack> rows;
    auto add = [&rows](std::string name, std::string token) {
        rows.push_back({std::move(name), std::move(token)});
    };

    // alg none and its spellings, empty signature (CVE-2015-2951 class).
    for (std::string_view alg : {"none", "None", "NONE", "nOnE"}) {
        add("alg_" + std::string(alg) + "_empty_signature",
            b64url(R"({"alg":")" + std::string(alg) + R"(","typ":"JWT"})") + "." + payload_b64 + ".");
    }
    add("alg_none_no_signature_segment", b64url(R"({"alg":"none"})") + "." + payload_b64);
    add("alg_none_original_signature",
        b64url(R"({"alg":"none","typ":"JWT"})") + "." + payload_b64 + "." + signature_b64);
    // alg none "signed" with the right key: only the header check can catch it.
    add("alg_none_correctly_macd", forge(R"({"alg":"none","typ":"JWT"})", payload_json));

    // Other HMAC algorithms with the right secret: the verifier pins HS256.
    add("hs384_right_secret", forge(R"({"alg":"HS384","typ":"JWT"})", payload_json, secret, EVP_sha384()));
    add("hs512_right_secret", forge(R"({"alg":"HS512","typ":"JWT"})", payload_json, secret, EVP_sha512()));
    // RS256 header, HMAC-SHA256 signature with the secret (key/algorithm confusion).
    add("rs256_header_hmac_signature", forge(R"({"alg":"RS256","typ":"JWT"})", payload_json));
    // Spellings cpp-jwt would accept (strcasecmp, stops at NUL); the header must say exactly HS256.
    add("alg_lowercase_hs256", forge(R"({"alg":"hs256","typ":"JWT"})", payload_json));
    add("alg_hs256_with_nul", forge(R"({"alg":"HS256\u0000x","typ":"JWT"})", payload_json));
    add("alg_missing", forge(R"({"typ":"JWT"})", payload_json));
    add("alg_not_a_string", forge(R"({"alg":256,"typ":"JWT"})", payload_json));
    add("alg_duplicated_in_header", forge(R"({"alg":"none","alg":"HS256","typ":"JWT"})", payload_json));

    // Signatures.
    add("signature_one_char_flipped", header_b64 + "." + payload_b64 + "." + flip(signature_b64, 10));
    add("signature_stripped", header_b64 + "." + payload_b64 + ".");
    add("only_two_segments", header_b64 + "." + payload_b64);
    add("four_segments", valid + ".x");
    add("signature_truncated", header_b64 + "." + payload_b64 + "." + signature_b64.substr(0, 42));
    add("signed_with_empty_secret", forge(hs256_header, payload_json, ""));
    add("signed_with_other_secret", forge(hs256_header, payload_json, repeat("0f", 32)));
    add("jwk_header_with_attacker_key",
        forge(R"({"alg":"HS256","typ":"JWT","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}})", payload_json,
              "attacker"));
    add("kid_path_traversal",
        forge(R"({"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"})", payload_json, ""));

    // Payload changed after signing (original signature kept).
    add("tampered_name", header_b64 + "." + b64url(with("name", "Mallory").dump()) + "." + signature_b64);
    add("tampered_sub", header_b64 + "." + b64url(with("sub", "u_admin").dump()) + "." + signature_b64);
    add("forged_duplicate_sub",
        header_b64 + "." +
            b64url(R"({"iss":"stratus-dev","aud":"stratus","sub":"u_0123456789abcdef","sub":"u_admin",)"
                   R"("name":"Alice","iat":1699999990,"nbf":1699999990,"exp":1700003600})") +
            "." + signature_b64);
    add("correctly_signed_duplicate_sub",
        forge(hs256_header, R"({"iss":"stratus-dev","aud":"stratus","sub":"u_a","sub":"u_admin",)"
                            R"("name":"Alice","iat":1699999990,"nbf":1699999990,"exp":1700003600})"));

    // Time.
    add("expired_beyond_leeway", token_with(with("exp", now_s - 61)));
    add("expired_long_ago", token_with(with("exp", 1)));
    add("missing_exp", token_with(without("exp")));
    add("exp_as_string", token_with(with("exp", "9999999999")));
    add("exp_fractional", token_with(with("exp", static_cast<double>(now_s) + 3600.5)));
    add("exp_huge_float", token_with(with("exp", 1e300)));
    add("exp_uint64_max", token_with(with("exp", UINT64_MAX)));
    add("exp_negative", token_with(with("exp", -1)));
    add("exp_null", token_with(with("exp", nullptr)));
    add("nbf_in_future", token_with(with("nbf", now_s + 3600)));
    add("missing_nbf", token_with(without("nbf")));
    add("iat_in_future", token_with(with("iat", now_s + 3600)));
    add("missing_iat", token_with(without("iat")));

    // Issuer, audience, subject, name.
    add("wrong_iss", token_with(with("iss", "someone-else")));
    add("missing_iss", token_with(without("iss")));
    add("wrong_aud", token_with(with("aud", "other-stage")));
    add("aud_as_array", token_with(with("aud", json::array({"stratus"}))));
    add("missing_aud", token_with(without("aud")));
    add("missing_sub", token_with(without("sub")));
    add("sub_is_number", token_with(with("sub", 42)));
    add("sub_empty", token_with(with("sub", "")));
    add("sub_path_chars", token_with(with("sub", "../admin")));
    add("sub_too_long", token_with(with("sub", std::string(65, 'a'))));
    add("name_control_char", token_with(with("name", "Al\x07ice")));
    add("name_40_chars", token_with(with("name", std::string(40, 'x'))));
    add("name_empty", token_with(with("name", "")));
    add("name_leading_space", token_with(with("name", " Alice")));
    add("name_missing", token_with(without("name")));
    add("name_is_number", token_with(with("name", 7)));

    // Header typing.
    add("typ_foo", token_with(claims(), R"({"alg":"HS256","typ":"foo"})"));
    add("typ_not_a_string", token_with(claims(), R"({"alg":"HS256","typ":1})"));
    add("crit_header", token_with(claims(), R"({"alg":"HS256","typ":"JWT","crit":["exp"]})"));

    // Shapes that are not a signed JSON object.
    add("payload_is_array", forge(hs256_header, "[1,2,3]"));
    add("payload_not_json", forge(hs256_header, "not json"));
    add("header_not_json", forge("{alg:HS256}", payload_json));
    add("payload_deeply_nested", forge(hs256_header, R"({"x":)" + repeat("[", 100) + repeat("]", 100) + "}"));

    // Garbage.
    add("empty", "");
    add("abc", "abc");
    add("a_dot_b_dot_c", "a.b.c");
    add("three_dots", "...");
    add("two_dots", "..");
    add("non_base64_chars", "he*der.pay!oad.sig~ature");
    add("non_ascii_bytes", header_b64 + ".\xc3\xa9\xff\x80." + signature_b64);
    add("leading_space", " " + valid);
    add("trailing_newline", valid + "\n");
    add("nul_inside", header_b64 + std::string(1, '\0') + "." + payload_b64 + "." + signature_b64);
    add("token_100_kib", forge(hs256_header, with("pad", std::string(100 * 1024, 'x')).dump()));
    add("token_just_over_8_kib", forge(hs256_header, with("pad", std::string(8 * 1024, 'x')).dump()));

    // Non-canonical base64url.
    add("padding_on_header", header_b64 + "=." + payload_b64 + "." + signature_b64);
    add("padding_on_signature", valid + "=");
    add("plus_in_payload",
        header_b64 + "." + payload_b64.substr(0, 5) + "+" + payload_b64.substr(6) + "." + signature_b64);
    add("slash_in_signature",
        header_b64 + "." + payload_b64 + "." + signature_b64.substr(0, 5) + "/" + signature_b64.substr(6));
    {
        // The last signature char carries 2 unused bits (32 bytes -> 43 chars); setting one
        // of them yields the same bytes in a lenient decoder, so it must be refused.
        std::string sig = signature_b64;
        sig.back() = static_cast<char>(sig.back() + 1); // value 4k -> 4k + 1, same run of the alphabet
        add("signature_nonzero_trailing_bits", header_b64 + "." + payload_b64 + "." + sig);
    }
    {
        // A header whose encoding has unused trailing bits set, correctly signed over that
        // very text: the MAC matches, but the encoding is not canonical. 16 bytes -> 22
        // chars, the last one carrying 4 unused bits (canonical: A, Q, g or w).
        std::string header = b64url(R"({"alg":"HS256"} )");
        header.back() = static_cast<char>(header.back() + 1);
        add("header_nonzero_trailing_bits_signed", sign(header + "." + payload_b64));
    }
    {
        // The same for a payload of 3k + 2 bytes (last char carries 2 unused bits).
        std::string payload = payload_json;
        while (payload.size() % 3 != 2) {
            payload += ' ';
        }
        std::string encoded = b64url(payload);
        encoded.back() = static_cast<char>(encoded.back() + 1);
        add("payload_nonzero_trailing_bits_signed", sign(header_b64 + "." + encoded));
    }
    return rows;
}

void PrintTo(attack const& row, std::ostream* out)
{
    *out << row.name;
}

class Hs256TokenVerifierAttack : public ::testing::TestWithParam<attack>, protected verifier_fixture {};

TEST_P(Hs256TokenVerifierAttack, IsRefusedWhileControlIsAccepted)
{
    auto const control = verifier_.verify(valid_token());
    ASSERT_TRUE(control.has_value()) << control.error().detail;

    auto const result = verifier_.verify(GetParam().token);
    ASSERT_FALSE(result.has_value()) << "accepted as " << result->user_id;
    EXPECT_EQ(result.error().code, errc::unauthorized);
    EXPECT_FALSE(result.error().detail.empty());
    RecordProperty("reason", result.error().detail);
}

INSTANTIATE_TEST_SUITE_P(AttackSet, Hs256TokenVerifierAttack, ::testing::ValuesIn(attacks()),
                         [](::testing::TestParamInfo<attack> const& row) { return row.param.name; });

} // namespace
