#pragma once

#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace stratus::testing {

/// A helper process for a test (a gateway, a stand-in server): started with its
/// standard output on a pipe, killed (SIGTERM) and reaped on destruction, and
/// killed by the kernel if the test process dies first, so a crashed test never
/// leaves one behind.
class child_process {
public:
    /// Starts argv[0] (searched on PATH when it has no '/'). Throws if it cannot start.
    explicit child_process(std::vector<std::string> argv)
    {
        std::vector<char*> args;
        for (auto& a : argv) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        int fds[2];
        if (::pipe(fds) != 0) {
            throw std::runtime_error("pipe failed");
        }
        pid_ = ::fork();
        if (pid_ < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::dup2(fds[1], STDOUT_FILENO);
            ::close(fds[0]);
            ::close(fds[1]);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::close(fds[1]);
        out_ = ::fdopen(fds[0], "r");
    }

    ~child_process()
    {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        if (out_ != nullptr) {
            std::fclose(out_);
        }
    }

    child_process(child_process const&) = delete;
    child_process& operator=(child_process const&) = delete;

    /// Reads output lines until one contains `marker`; returns what follows the
    /// marker on that line, or nullopt when the output ends first.
    std::optional<std::string> wait_for_line(std::string_view marker)
    {
        char line[4096];
        while (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) {
            std::string text(line);
            if (auto const at = text.find(marker); at != std::string::npos) {
                return text.substr(at + marker.size());
            }
        }
        return std::nullopt;
    }

private:
    pid_t pid_ = -1;
    std::FILE* out_ = nullptr;
};

} // namespace stratus::testing
