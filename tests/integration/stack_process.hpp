#pragma once

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace stratus::testing {

/// Runs `stratus dev --port 0` on a fresh data directory for one test suite
/// and parses the URL it prints when ready. Killed (SIGTERM) on destruction.
class stack_process {
public:
    explicit stack_process(std::vector<std::string> extra_args = {})
    {
        data_dir_ = std::filesystem::temp_directory_path() /
                    ("stratus-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(data_dir_);
        std::vector<std::string> args{STRATUS_BINARY, "dev", "--host",     "127.0.0.1",
                                      "--port",       "0",   "--data-dir", data_dir_.string()};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);

        int fds[2];
        if (::pipe(fds) != 0) {
            throw std::runtime_error("pipe failed");
        }
        // fork + exec rather than posix_spawn: the child asks to be killed when
        // this test process dies, so a crashed test never leaves a gateway behind.
        pid_ = ::fork();
        if (pid_ < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::dup2(fds[1], STDOUT_FILENO);
            ::close(fds[0]);
            ::close(fds[1]);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = ::fdopen(fds[0], "r");

        // Wait for "Stratus local stack ready at http://127.0.0.1:PORT/".
        char line[1024];
        std::string const marker = "ready at http://";
        while (std::fgets(line, sizeof line, out_) != nullptr) {
            std::string text(line);
            auto const at = text.find(marker);
            if (at != std::string::npos) {
                auto const hostport = text.substr(at + marker.size());
                auto const colon = hostport.find(':');
                port_ = static_cast<unsigned short>(std::stoi(hostport.substr(colon + 1)));
                return;
            }
        }
        throw std::runtime_error("stratus exited before it was ready");
    }

    ~stack_process()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        if (out_ != nullptr) {
            std::fclose(out_);
        }
        std::error_code ignored;
        std::filesystem::remove_all(data_dir_, ignored);
    }

    stack_process(stack_process const&) = delete;
    stack_process& operator=(stack_process const&) = delete;

    [[nodiscard]] unsigned short port() const { return port_; }
    [[nodiscard]] std::filesystem::path const& data_dir() const { return data_dir_; }

private:
    static int& counter()
    {
        static int value = 0;
        return value;
    }

    pid_t pid_ = -1;
    std::FILE* out_ = nullptr;
    unsigned short port_ = 0;
    std::filesystem::path data_dir_;
};

} // namespace stratus::testing
