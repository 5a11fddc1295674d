#include "adapters/jwt/secret_file.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

namespace stratus {
namespace {

constexpr std::size_t secret_bytes = 32;
constexpr std::size_t secret_hex_chars = 2 * secret_bytes;
/// Longest content worth reading: 64 hex chars, a newline, and one byte to
/// notice that there is more.
constexpr std::size_t max_read_bytes = secret_hex_chars + 2;

/// Closes a file descriptor on scope exit.
class fd_guard {
public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    fd_guard(fd_guard const&) = delete;
    fd_guard& operator=(fd_guard const&) = delete;
    ~fd_guard()
    {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    /// Closes now and reports the result (close can report a deferred write error).
    [[nodiscard]] bool close() noexcept
    {
        int const fd = fd_;
        fd_ = -1;
        return ::close(fd) == 0;
    }

private:
    int fd_;
};

std::string errno_text(int err)
{
    return std::error_code(err, std::generic_category()).message();
}

bool is_hex(char ch) noexcept
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/// What reading an existing file gave.
enum class read_outcome {
    ok,
    missing,
    /// Content too short but all hex: possibly another process is still writing it.
    incomplete,
};

struct read_result {
    read_outcome outcome = read_outcome::ok;
    std::string secret;
};

result<read_result> read_secret(std::filesystem::path const& file)
{
    int const fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int const err = errno;
        if (err == ENOENT) {
            return read_result{read_outcome::missing, {}};
        }
        if (err == ELOOP) {
            return fail(errc::invalid_request,
                        file.string() +
                            " is a symbolic link; it must be a regular file (delete it to regenerate)");
        }
        return fail(errc::unavailable, "cannot open " + file.string() + ": " + errno_text(err));
    }
    fd_guard guard(fd);

    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        return fail(errc::unavailable, "cannot stat " + file.string() + ": " + errno_text(errno));
    }
    if (!S_ISREG(info.st_mode)) {
        return fail(errc::invalid_request,
                    file.string() + " is not a regular file (delete it to regenerate the secret)");
    }
    if ((info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        std::array<char, 8> mode{};
        std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(info.st_mode & 07777));
        return fail(errc::invalid_request, file.string() + " has mode " + mode.data() +
                                               " and is accessible by group or others; run: chmod 600 " +
                                               file.string());
    }

    std::string content;
    std::array<char, max_read_bytes> buffer{};
    while (content.size() < max_read_bytes) {
        ssize_t const n = ::read(fd, buffer.data(), max_read_bytes - content.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(errc::unavailable, "cannot read " + file.string() + ": " + errno_text(errno));
        }
        if (n == 0) {
            break;
        }
        content.append(buffer.data(), static_cast<std::size_t>(n));
    }
    OPENSSL_cleanse(buffer.data(), buffer.size());

    std::string_view text = content;
    if (!text.empty() && text.back() == '\n') {
        text.remove_suffix(1);
    }
    bool all_hex = true;
    for (char ch : text) {
        all_hex = all_hex && is_hex(ch);
    }
    if (all_hex && text.size() == secret_hex_chars) {
        read_result out{read_outcome::ok, std::string(text)};
        OPENSSL_cleanse(content.data(), content.size());
        return out;
    }
    OPENSSL_cleanse(content.data(), content.size());
    if (all_hex && text.size() < secret_hex_chars && content.find('\n') == std::string::npos) {
        return read_result{read_outcome::incomplete, {}};
    }
    return fail(errc::invalid_request, file.string() +
                                           " must contain exactly 64 hex characters (an optional trailing "
                                           "newline allowed); delete it to generate a new secret");
}

/// Creates `dir` (and parents) when missing; the last component gets mode 0700.
result<void> ensure_directory(std::filesystem::path dir)
{
    if (!dir.has_filename() && dir.has_parent_path()) {
        dir = dir.parent_path(); // "data/" -> "data"
    }
    std::error_code ec;
    auto const status = std::filesystem::status(dir, ec);
    if (std::filesystem::is_directory(status)) {
        return {};
    }
    if (std::filesystem::exists(status)) {
        return fail(errc::invalid_request, dir.string() + " exists and is not a directory");
    }
    if (dir.has_parent_path() && dir.parent_path() != dir) {
        std::filesystem::create_directories(dir.parent_path(), ec);
        if (ec) {
            return fail(errc::unavailable,
                        "cannot create " + dir.parent_path().string() + ": " + ec.message());
        }
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail(errc::unavailable, "cannot create " + dir.string() + ": " + errno_text(errno));
    }
    if (!std::filesystem::is_directory(dir, ec)) {
        return fail(errc::invalid_request, dir.string() + " exists and is not a directory");
    }
    return {};
}

std::string to_hex(std::array<unsigned char, secret_bytes> const& bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes.size());
    for (unsigned char b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0F]);
    }
    return out;
}

result<void> write_all(int fd, std::string_view data, std::filesystem::path const& file)
{
    while (!data.empty()) {
        ssize_t const n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(errc::unavailable, "cannot write " + file.string() + ": " + errno_text(errno));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return {};
}

/// Makes the new directory entry durable (best effort: some file systems refuse).
void fsync_directory(std::filesystem::path const& dir) noexcept
{
    int const fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)::fsync(fd);
        ::close(fd);
    }
}

enum class create_outcome { created, already_exists };

result<create_outcome> create_secret(std::filesystem::path const& file, std::string const& secret)
{
    int const fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int const err = errno;
        if (err == EEXIST) {
            return create_outcome::already_exists;
        }
        return fail(errc::unavailable, "cannot create " + file.string() + ": " + errno_text(err));
    }
    fd_guard guard(fd);
    auto undo = [&file](std::string message) {
        ::unlink(file.c_str());
        return fail(errc::unavailable, std::move(message));
    };
    // The umask can only remove bits from 0600; make the mode exact anyway.
    if (::fchmod(fd, 0600) != 0) {
        return undo("cannot chmod " + file.string() + ": " + errno_text(errno));
    }
    if (auto written = write_all(fd, secret + "\n", file); !written) {
        return undo(written.error().detail);
    }
    if (::fsync(fd) != 0) {
        return undo("cannot fsync " + file.string() + ": " + errno_text(errno));
    }
    if (!guard.close()) {
        return undo("cannot close " + file.string() + ": " + errno_text(errno));
    }
    fsync_directory(file.parent_path());
    return create_outcome::created;
}

} // namespace

result<std::string> load_or_create_secret(std::filesystem::path const& data_dir)
{
    try {
        if (data_dir.empty()) {
            return fail(errc::invalid_request, "data directory path is empty");
        }
        if (auto dir = ensure_directory(data_dir); !dir) {
            return fail(dir.error().code, dir.error().detail);
        }
        auto const file = data_dir / "jwt-secret";

        // Bounded wait for a concurrent creator that has not finished writing.
        constexpr int max_attempts = 50;
        for (int attempt = 0; attempt < max_attempts; ++attempt) {
            auto existing = read_secret(file);
            if (!existing) {
                return fail(existing.error().code, existing.error().detail);
            }
            if (existing->outcome == read_outcome::ok) {
                return std::move(existing->secret);
            }
            if (existing->outcome == read_outcome::incomplete) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
                continue;
            }

            std::array<unsigned char, secret_bytes> bytes{};
            if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
                return fail(errc::internal, "RAND_bytes failed: cannot generate the JWT secret");
            }
            std::string secret = to_hex(bytes);
            OPENSSL_cleanse(bytes.data(), bytes.size());
            auto created = create_secret(file, secret);
            if (!created) {
                return fail(created.error().code, created.error().detail);
            }
            if (*created == create_outcome::created) {
                return secret;
            }
            // Lost the race: someone created it between our read and our create; read theirs.
            OPENSSL_cleanse(secret.data(), secret.size());
        }
        return fail(errc::invalid_request, file.string() +
                                               " stays incomplete (fewer than 64 hex characters); delete it "
                                               "to generate a new secret");
    } catch (std::exception const& e) {
        return fail(errc::unavailable, std::string("cannot load the JWT secret: ") + e.what());
    }
}

result<std::string> load_secret(std::filesystem::path const& file)
{
    try {
        auto existing = read_secret(file);
        if (!existing) {
            return fail(existing.error().code, existing.error().detail);
        }
        if (existing->outcome == read_outcome::missing) {
            return fail(errc::invalid_request, file.string() + " does not exist");
        }
        if (existing->outcome == read_outcome::incomplete) {
            return fail(errc::invalid_request, file.string() + " holds fewer than 64 hex characters");
        }
        return std::move(existing->secret);
    } catch (std::exception const& e) {
        return fail(errc::unavailable, std::string("cannot load the JWT secret: ") + e.what());
    }
}

} // namespace stratus
