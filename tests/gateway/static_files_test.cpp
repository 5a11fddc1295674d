#include "gateway/static_files.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace stratus::gateway {
namespace {

namespace fs = std::filesystem;

class StaticFiles : public ::testing::Test {
protected:
    fs::path root;
    fs::path outside;

    void SetUp() override
    {
        auto const base =
            fs::temp_directory_path() /
            ("stratus-static-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(base);
        root = base / "web";
        outside = base / "secret.txt";
        fs::create_directories(root / "css");
        std::ofstream(root / "index.html") << "<h1>hi</h1>";
        std::ofstream(root / "css" / "app.css") << "body{}";
        std::ofstream(root / "a b.txt") << "space";
        std::ofstream(outside) << "secret";
        fs::create_symlink(outside, root / "link.txt");
    }
    void TearDown() override { fs::remove_all(root.parent_path()); }
};

TEST_F(StaticFiles, ResolvesFilesAndIndexes)
{
    EXPECT_EQ(static_files::resolve(root, "/")->filename(), "index.html");
    EXPECT_EQ(static_files::resolve(root, "/css/app.css")->filename(), "app.css");
    EXPECT_EQ(static_files::resolve(root, "/a%20b.txt")->filename(), "a b.txt");
    EXPECT_EQ(static_files::resolve(root, "/missing.js").error().code, errc::not_found);
}

TEST_F(StaticFiles, NeverEscapesTheRoot)
{
    for (auto const* path : {"/../secret.txt", "/css/../../secret.txt", "/%2e%2e/secret.txt",
                             "/..%2fsecret.txt", "/a%00b", "/%zz", "/%4", "/a\\..\\b", "/link.txt"}) {
        auto resolved = static_files::resolve(root, path);
        EXPECT_FALSE(resolved.has_value()) << path;
    }
    EXPECT_FALSE(static_files::resolve(root, "relative").has_value());
}

TEST_F(StaticFiles, KnowsContentTypesAndCaching)
{
    EXPECT_EQ(static_files::content_type("x.html"), "text/html; charset=utf-8");
    EXPECT_EQ(static_files::content_type("x.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(static_files::content_type("x.css"), "text/css; charset=utf-8");
    EXPECT_EQ(static_files::content_type("x.bin"), "application/octet-stream");
    EXPECT_EQ(static_files::cache_control("index.html"), "no-cache");
    EXPECT_EQ(static_files::cache_control("app.js"), "no-cache");
    auto const tag = static_files::etag(root / "index.html");
    ASSERT_FALSE(tag.empty());
    EXPECT_EQ(tag.front(), '"');
    EXPECT_EQ(tag, static_files::etag(root / "index.html")) << "stable while the file is unchanged";
    std::ofstream(root / "index.html") << "<h1>changed, and longer</h1>";
    EXPECT_NE(tag, static_files::etag(root / "index.html"));
    EXPECT_EQ(static_files::etag(root / "missing.html"), "");
    bool has_csp = false;
    for (auto const& [name, value] : static_files::security_headers()) {
        has_csp = has_csp ||
                  (name == "Content-Security-Policy" && value.find("script-src 'self'") != std::string::npos);
    }
    EXPECT_TRUE(has_csp);
}

} // namespace
} // namespace stratus::gateway
