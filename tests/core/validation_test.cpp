#include "core/validation.hpp"

#include <gtest/gtest.h>

namespace stratus {
namespace {

TEST(Validation, AcceptsWellFormedUtf8)
{
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("plain ascii"));
    EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));      // é
    EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC"));     // €
    EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80")); // 😀
    EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF")); // U+10FFFF
}

TEST(Validation, RejectsMalformedUtf8)
{
    EXPECT_FALSE(is_valid_utf8("\x80"));             // stray continuation
    EXPECT_FALSE(is_valid_utf8("\xC3"));             // truncated
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));         // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));     // overlong 3-byte
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));     // surrogate U+D800
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80")); // > U+10FFFF
    EXPECT_FALSE(is_valid_utf8("\xFF"));
    EXPECT_FALSE(is_valid_utf8("ok\xE2\x82"));
}

TEST(Validation, CountsCodePoints)
{
    EXPECT_EQ(utf8_length("abc"), 3U);
    EXPECT_EQ(utf8_length("\xF0\x9F\x98\x80x"), 2U);
}

TEST(Validation, DetectsDeepNestingOutsideStrings)
{
    EXPECT_FALSE(unsafe_json_text(R"({"a":[1,{"b":2}]})", 3));
    EXPECT_TRUE(unsafe_json_text(R"([[[[1]]]])", 3));
    EXPECT_FALSE(unsafe_json_text(R"({"text":"[[[[[[[[[["})", 2));
    EXPECT_FALSE(unsafe_json_text(R"({"text":"\"[[[[[[[["})", 2));
}

TEST(Validation, NulBytesMakeJsonTextUnsafe)
{
    // nlohmann/json treats NUL as the end of input and would accept the prefix.
    EXPECT_TRUE(unsafe_json_text(std::string(R"({"action":"ping"})") + '\0', 32));
    EXPECT_TRUE(unsafe_json_text(std::string(R"({"a":")") + '\0' + R"("})", 32));
}

TEST(Validation, RoomNames)
{
    EXPECT_TRUE(validate_room("general"));
    EXPECT_TRUE(validate_room("Team_1.ops-2"));
    EXPECT_TRUE(validate_room(std::string(64, 'r')));
    EXPECT_FALSE(validate_room(""));
    EXPECT_FALSE(validate_room(std::string(65, 'r')));
    EXPECT_FALSE(validate_room(".hidden"));
    EXPECT_FALSE(validate_room("-dash"));
    EXPECT_FALSE(validate_room("a b"));
    EXPECT_FALSE(validate_room("a/b"));
    EXPECT_FALSE(validate_room("caf\xC3\xA9"));
}

TEST(Validation, MessageText)
{
    EXPECT_TRUE(validate_text("hello"));
    EXPECT_TRUE(validate_text("line1\nline2\ttab"));
    EXPECT_TRUE(validate_text("\xF0\x9F\x98\x80"));
    EXPECT_TRUE(validate_text(std::string(4000, 'a')));
    EXPECT_EQ(validate_text(std::string(4001, 'a')).error().code, errc::too_large);
    EXPECT_EQ(validate_text(std::string(16385, 'a')).error().code, errc::too_large);
    EXPECT_EQ(validate_text("").error().code, errc::invalid_request);
    EXPECT_EQ(validate_text(" \n\t ").error().code, errc::invalid_request);
    EXPECT_EQ(validate_text(std::string("nul\0byte", 8)).error().code, errc::invalid_request);
    EXPECT_EQ(validate_text("esc\x1b[31m").error().code, errc::invalid_request);
    EXPECT_EQ(validate_text("c1\xC2\x85").error().code, errc::invalid_request);
    EXPECT_EQ(validate_text("bad\xFF").error().code, errc::invalid_request);
}

TEST(Validation, ClientMessageIds)
{
    EXPECT_TRUE(validate_client_msg_id("0b8e7c1e-1d2f-4a5b-9c3d-1234567890ab"));
    EXPECT_FALSE(validate_client_msg_id(""));
    EXPECT_FALSE(validate_client_msg_id(std::string(65, 'a')));
    EXPECT_FALSE(validate_client_msg_id("a b"));
    EXPECT_FALSE(validate_client_msg_id("a#b"));
}

TEST(Validation, DisplayNames)
{
    EXPECT_TRUE(validate_name("alice"));
    EXPECT_TRUE(validate_name("Zo\xC3\xAB W."));
    EXPECT_FALSE(validate_name(""));
    EXPECT_FALSE(validate_name(" alice"));
    EXPECT_FALSE(validate_name("alice "));
    EXPECT_FALSE(validate_name(std::string(33, 'n')));
    EXPECT_FALSE(validate_name("tab\there"));
    EXPECT_FALSE(validate_name("bad\xC3"));
}

} // namespace
} // namespace stratus
