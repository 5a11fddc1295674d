#include "loadgen/process_stats.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace stratus::loadgen {
namespace {

struct stat_fields {
    int ppid = 0;
    /// utime + stime of the process itself, and cutime + cstime of reaped children, in ticks.
    std::int64_t own_ticks = 0;
    std::int64_t children_ticks = 0;
};

// Parses /proc/<...>/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
std::optional<stat_fields> read_stat(std::filesystem::path const& path)
{
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto const close = line.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields{std::istream_iterator<std::string>(rest),
                                    std::istream_iterator<std::string>()};
    // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
    if (fields.size() < 15) {
        return std::nullopt;
    }
    auto const number = [&](std::size_t i) {
        std::int64_t value = 0;
        std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), value);
        return value;
    };
    stat_fields out;
    out.ppid = static_cast<int>(number(1));
    out.own_ticks = number(11) + number(12);
    out.children_ticks = number(13) + number(14);
    return out;
}

double ticks_to_seconds(std::int64_t ticks)
{
    static long const hz = ::sysconf(_SC_CLK_TCK);
    return static_cast<double>(ticks) / static_cast<double>(hz > 0 ? hz : 100);
}

} // namespace

double process_stats::self_cpu_seconds()
{
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto const seconds = [](timeval const& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::optional<double> process_stats::thread_cpu_seconds(int tid)
{
    auto const stat = read_stat(std::filesystem::path("/proc/self/task") / std::to_string(tid) / "stat");
    if (!stat) {
        return std::nullopt;
    }
    return ticks_to_seconds(stat->own_ticks);
}

std::optional<double> process_stats::tree_cpu_seconds(int pid)
{
    // One pass over /proc: every process's parent and CPU ticks.
    std::map<int, stat_fields> all;
    std::error_code ec;
    for (auto const& entry : std::filesystem::directory_iterator("/proc", ec)) {
        auto const name = entry.path().filename().string();
        int id = 0;
        auto const [end, parse_ec] = std::from_chars(name.data(), name.data() + name.size(), id);
        if (parse_ec != std::errc{} || end != name.data() + name.size()) {
            continue;
        }
        if (auto stat = read_stat(entry.path() / "stat")) {
            all.emplace(id, *stat);
        }
    }
    if (all.find(pid) == all.end()) {
        return std::nullopt;
    }
    std::multimap<int, int> children;
    for (auto const& [id, stat] : all) {
        children.emplace(stat.ppid, id);
    }
    std::int64_t ticks = 0;
    std::vector<int> pending{pid};
    while (!pending.empty()) {
        auto const id = pending.back();
        pending.pop_back();
        auto const& stat = all.at(id);
        ticks += stat.own_ticks + stat.children_ticks;
        auto const [first, last] = children.equal_range(id);
        for (auto it = first; it != last; ++it) {
            pending.push_back(it->second);
        }
    }
    return ticks_to_seconds(ticks);
}

std::optional<std::int64_t> process_stats::rss_kib(int pid)
{
    std::ifstream in(std::filesystem::path("/proc") / std::to_string(pid) / "status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream fields(line.substr(6));
            std::int64_t kib = 0;
            fields >> kib;
            return kib;
        }
    }
    return std::nullopt;
}

int process_stats::current_thread_id()
{
    return static_cast<int>(::syscall(SYS_gettid));
}

} // namespace stratus::loadgen
