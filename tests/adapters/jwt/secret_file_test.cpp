#include "adapters/jwt/secret_file.hpp"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using stratus::errc;
using stratus::load_or_create_secret;

bool is_lower_hex(std::string const& text)
{
    for (char ch : text) {
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return false;
        }
    }
    return true;
}

unsigned mode_of(fs::path const& path)
{
    struct stat info {};
    EXPECT_EQ(::lstat(path.c_str(), &info), 0) << path;
    return static_cast<unsigned>(info.st_mode & 07777);
}

std::string read_file(fs::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(fs::path const& path, std::string const& content, fs::perms perms)
{
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << content;
    }
    fs::permissions(path, perms, fs::perm_options::replace);
}

class SecretFile : public ::testing::Test {
protected:
    void SetUp() override
    {
        std::random_device random;
        root_ = fs::temp_directory_path() /
                ("stratus-secret-file-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
        fs::create_directories(root_);
    }
    void TearDown() override
    {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    fs::path root_;
};

TEST_F(SecretFile, CreatesSecretWithMode0600)
{
    auto const dir = root_ / "data";
    fs::create_directory(dir);
    auto const secret = load_or_create_secret(dir);
    ASSERT_TRUE(secret.has_value()) << secret.error().detail;
    EXPECT_EQ(secret->size(), 64U);
    EXPECT_TRUE(is_lower_hex(*secret)) << *secret;
    EXPECT_EQ(mode_of(dir / "jwt-secret"), 0600U);
    EXPECT_EQ(read_file(dir / "jwt-secret"), *secret + "\n");
}

TEST_F(SecretFile, ReloadsTheSameSecret)
{
    auto const first = load_or_create_secret(root_);
    ASSERT_TRUE(first.has_value()) << first.error().detail;
    auto const second = load_or_create_secret(root_);
    ASSERT_TRUE(second.has_value()) << second.error().detail;
    EXPECT_EQ(*first, *second);
}

TEST_F(SecretFile, DifferentDataDirsGetDifferentSecrets)
{
    auto const a = load_or_create_secret(root_ / "a");
    auto const b = load_or_create_secret(root_ / "b");
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_NE(*a, *b);
}

TEST_F(SecretFile, CreatesMissingDataDirWithMode0700)
{
    auto const dir = root_ / "x" / "y" / "data";
    auto const secret = load_or_create_secret(dir);
    ASSERT_TRUE(secret.has_value()) << secret.error().detail;
    EXPECT_TRUE(fs::is_directory(dir));
    EXPECT_EQ(mode_of(dir), 0700U);
    EXPECT_TRUE(fs::is_regular_file(dir / "jwt-secret"));
}

TEST_F(SecretFile, AcceptsDataDirWithTrailingSlash)
{
    auto const secret = load_or_create_secret(root_.string() + "/data/");
    ASSERT_TRUE(secret.has_value()) << secret.error().detail;
    EXPECT_EQ(mode_of(root_ / "data"), 0700U);
}

TEST_F(SecretFile, RefusesGroupOrOtherReadableFileWithChmodHint)
{
    ASSERT_TRUE(load_or_create_secret(root_).has_value());
    fs::permissions(root_ / "jwt-secret", static_cast<fs::perms>(0644), fs::perm_options::replace);
    auto const secret = load_or_create_secret(root_);
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
    EXPECT_NE(secret.error().detail.find("chmod 600"), std::string::npos) << secret.error().detail;
    EXPECT_NE(secret.error().detail.find("0644"), std::string::npos) << secret.error().detail;
    EXPECT_EQ(mode_of(root_ / "jwt-secret"), 0644U); // never "fixed" behind the user's back
}

TEST_F(SecretFile, RefusesGroupWritableFile)
{
    write_file(root_ / "jwt-secret", std::string(64, 'a'), static_cast<fs::perms>(0620));
    auto const secret = load_or_create_secret(root_);
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
}

TEST_F(SecretFile, AcceptsContentWithAndWithoutTrailingNewline)
{
    std::string const hex(64, 'c');
    write_file(root_ / "jwt-secret", hex, fs::perms::owner_read | fs::perms::owner_write);
    auto const bare = load_or_create_secret(root_);
    ASSERT_TRUE(bare.has_value()) << bare.error().detail;
    EXPECT_EQ(*bare, hex);
    write_file(root_ / "jwt-secret", hex + "\n", fs::perms::owner_read);
    auto const with_newline = load_or_create_secret(root_);
    ASSERT_TRUE(with_newline.has_value()) << with_newline.error().detail;
    EXPECT_EQ(*with_newline, hex);
}

TEST_F(SecretFile, RefusesGarbageContent)
{
    auto const file = root_ / "jwt-secret";
    for (std::string const& content :
         {std::string("this is not a secret\n"), std::string(63, 'a') + "\n", std::string(65, 'a'),
          std::string(64, 'g'), std::string(64, 'a') + "\n\n", std::string(64, 'a') + " ",
          " " + std::string(64, 'a'), std::string(32, 'a') + "\n" + std::string(32, 'a'),
          std::string(64, 'a') + "\r\n", std::string(1000, 'a'), std::string("\0\0\0\0", 4)}) {
        write_file(file, content, fs::perms::owner_read | fs::perms::owner_write);
        auto const secret = load_or_create_secret(root_);
        ASSERT_FALSE(secret.has_value()) << "accepted: " << content;
        EXPECT_EQ(secret.error().code, errc::invalid_request);
        EXPECT_NE(secret.error().detail.find("64 hex"), std::string::npos) << secret.error().detail;
    }
}

TEST_F(SecretFile, RefusesEmptyFileThatNeverCompletes)
{
    // An empty file may be another process's half-written secret: it is re-read for a
    // bounded time, then refused.
    write_file(root_ / "jwt-secret", "", fs::perms::owner_read | fs::perms::owner_write);
    auto const secret = load_or_create_secret(root_);
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
}

TEST_F(SecretFile, RefusesDirectoryAtSecretPath)
{
    fs::create_directory(root_ / "jwt-secret");
    auto const secret = load_or_create_secret(root_);
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
    EXPECT_NE(secret.error().detail.find("regular file"), std::string::npos) << secret.error().detail;
}

TEST_F(SecretFile, RefusesSymlinkAtSecretPath)
{
    write_file(root_ / "target", std::string(64, 'a'), fs::perms::owner_read | fs::perms::owner_write);
    fs::create_symlink(root_ / "target", root_ / "jwt-secret");
    auto const secret = load_or_create_secret(root_);
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
}

TEST_F(SecretFile, RefusesDataDirThatIsAFile)
{
    write_file(root_ / "data", "x", fs::perms::owner_read | fs::perms::owner_write);
    auto const secret = load_or_create_secret(root_ / "data");
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
}

TEST_F(SecretFile, RefusesEmptyPath)
{
    auto const secret = load_or_create_secret(fs::path());
    ASSERT_FALSE(secret.has_value());
    EXPECT_EQ(secret.error().code, errc::invalid_request);
}

TEST_F(SecretFile, ConcurrentCreatorsAgreeOnOneSecret)
{
    for (int round = 0; round < 20; ++round) {
        auto const dir = root_ / ("race-" + std::to_string(round));
        constexpr int threads = 4;
        std::vector<std::string> secrets(threads);
        std::vector<std::string> errors(threads);
        std::atomic<bool> go{false};
        std::vector<std::thread> workers;
        for (int i = 0; i < threads; ++i) {
            workers.emplace_back([&, i] {
                while (!go.load()) {
                    std::this_thread::yield();
                }
                auto const secret = load_or_create_secret(dir);
                if (secret) {
                    secrets[static_cast<std::size_t>(i)] = *secret;
                } else {
                    errors[static_cast<std::size_t>(i)] = secret.error().detail;
                }
            });
        }
        go = true;
        for (auto& worker : workers) {
            worker.join();
        }
        for (int i = 0; i < threads; ++i) {
            EXPECT_EQ(errors[static_cast<std::size_t>(i)], "");
            EXPECT_EQ(secrets[static_cast<std::size_t>(i)], secrets[0]);
        }
        EXPECT_EQ(read_file(dir / "jwt-secret"), secrets[0] + "\n");
    }
}

} // namespace
