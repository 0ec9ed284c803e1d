#include "run/descendants.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace rwkvb {
namespace {

using Clock = std::chrono::steady_clock;

std::mutex& registry_mutex() {
    static std::mutex m;
    return m;
}

std::set<pid_t>& registered_workers() {
    static std::set<pid_t> workers;
    return workers;
}

struct ProcessIds {
    pid_t parent = 0;
    pid_t session = 0;
};

// Parent and session of `pid` from /proc/<pid>/stat. The command name, second field, may hold
// spaces and ')' itself, so the fields are counted from its last ')'.
std::optional<ProcessIds> process_ids(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return std::nullopt;
    const size_t name_end = text.rfind(')');
    if (name_end == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(name_end + 1));
    char state = 0;
    long group = 0;
    ProcessIds ids;
    if (!(fields >> state >> ids.parent >> group >> ids.session)) return std::nullopt;
    return ids;
}

std::vector<pid_t> escaped_children() {
    const pid_t self = ::getpid();
    const pid_t our_session = ::getsid(0);
    std::vector<pid_t> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = static_cast<pid_t>(std::stol(name));
        const auto ids = process_ids(pid);
        if (!ids || ids->parent != self || ids->session == our_session) continue;
        if (registered_workers().count(pid)) continue;
        found.push_back(pid);
    }
    return found;
}

// Reaps `pid`, a child of ours just sent SIGKILL. False if it has not died by `deadline` (a
// process stuck in the kernel, state D, ignores even SIGKILL until it leaves the kernel).
bool reap(pid_t pid, Clock::time_point deadline) {
    for (;;) {
        const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        if (r < 0 && errno != EINTR) return false;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

}  // namespace

void become_child_subreaper() {
    static const bool done = [] {
        if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
            throw std::runtime_error(std::string("cannot become a child subreaper (prctl): ") + std::strerror(errno));
        return true;
    }();
    (void)done;
}

std::unique_lock<std::mutex> WorkerRegistry::lock() { return std::unique_lock<std::mutex>(registry_mutex()); }

void WorkerRegistry::add(pid_t worker) { registered_workers().insert(worker); }

void WorkerRegistry::remove(pid_t worker) {
    const std::lock_guard<std::mutex> hold(registry_mutex());
    registered_workers().erase(worker);
}

int kill_escaped_descendants(double budget_s) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(budget_s));
    // Held throughout: no worker starts between the scan and the kill, so a pid we found can only
    // be reused after we reaped it ourselves.
    const std::lock_guard<std::mutex> hold(registry_mutex());
    int count = 0;
    for (;;) {
        const std::vector<pid_t> found = escaped_children();
        if (found.empty()) break;
        for (const pid_t pid : found) ::kill(pid, SIGKILL);
        for (const pid_t pid : found)
            if (reap(pid, deadline)) ++count;
        if (Clock::now() >= deadline) break;
    }
    return count;
}

}  // namespace rwkvb
