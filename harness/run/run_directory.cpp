#include "run/run_directory.hpp"

#include "io/atomic_file.hpp"
#include "errors.hpp"
#include "io/untrusted_json.hpp"
#include "io/utf8.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace rwkvb {
namespace {

// The writer's pid of a temporary write_file_atomically leaves behind: "<name>.tmp.<pid>".
std::optional<pid_t> temporary_writer(const std::string& file_name) {
    const size_t at = file_name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) return std::nullopt;
    const std::string digits = file_name.substr(at + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
    return static_cast<pid_t>(std::stol(digits));
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// See run_directory.hpp: with the lock held every temporary is stale; without, those of dead pids.
void remove_stale_temporaries(const std::filesystem::path& root, bool locked) {
    for (const auto& dir : {root, root / "cells", root / "work"}) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
            const auto writer = temporary_writer(entry.path().filename().string());
            if (!writer || !entry.is_regular_file(ec)) continue;
            if (locked || !process_alive(*writer)) std::filesystem::remove(entry.path(), ec);
        }
    }
}

std::filesystem::path absolute_directory(const std::filesystem::path& dir) {
    auto root = std::filesystem::absolute(dir).lexically_normal();
    if (!root.has_filename() && root.has_parent_path()) root = root.parent_path();  // "run/" → "run"
    return root;
}

}  // namespace

RunDirectory::RunDirectory(std::filesystem::path root) : root_(absolute_directory(root)) {}

void RunDirectory::claim() {
    const auto lock_file = root_ / ".lock";
    const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);  // never inherited by workers
    if (fd < 0)
        throw InputError(fmt::format("{}: cannot open the run directory's lock file: {}", lock_file.string(),
                                     std::strerror(errno)));
    lock_fd_ = std::shared_ptr<const int>(new int(fd), [](const int* p) {
        ::close(*p);
        delete p;
    });
    bool locked = true;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            char holder[32] = {};
            const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
            throw InputError(fmt::format("{}: another rwkvbench run (pid {}) is using this run directory; wait for "
                                         "it to end, or choose another directory",
                                         root_.string(), n > 0 ? valid_utf8(std::string(holder, size_t(n))) : "?"));
        }
        locked = false;  // a file system without locks (ENOLCK, EOPNOTSUPP): fall back on pids
    }
    if (locked) {
        const std::string pid = std::to_string(::getpid());
        if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
            // Only the message of a second run would lack our pid.
        }
    }
    remove_stale_temporaries(root_, locked);
}

std::string utc_timestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "unknown-host";
    return buf;
}

std::filesystem::path RunDirectory::default_location(const std::filesystem::path& base) {
    std::string stamp = utc_timestamp();
    std::string name;
    for (char c : stamp)
        if (c != ':' && c != '-') name.push_back(c);  // 20240501T123456Z: no ':' in a file name
    std::string host;
    for (char c : host_name()) host.push_back((std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_');
    auto dir = base / (name + "-" + host);
    for (int i = 2; std::filesystem::exists(dir); ++i) dir = base / fmt::format("{}-{}-{}", name, host, i);
    return dir;
}

RunDirectory RunDirectory::create(const std::filesystem::path& dir) {
    RunDirectory d(dir);
    const std::string root = d.root().string();
    auto refuse_if_taken = [&] {
        if (std::filesystem::exists(d.plan_file()))
            throw InputError(fmt::format("{}: already holds a run; use --resume {} to complete it, or choose another "
                                         "--dir",
                                         root, root));
    };
    refuse_if_taken();
    std::error_code ec;
    std::filesystem::create_directories(d.root() / "cells", ec);
    if (!ec) std::filesystem::create_directories(d.work_dir(), ec);
    if (ec) throw InputError(fmt::format("{}: cannot create the run directory: {}", root, ec.message()));
    d.claim();
    refuse_if_taken();  // again, now that no other run can be creating it
    return d;
}

RunDirectory RunDirectory::open(const std::filesystem::path& dir) {
    RunDirectory d(dir);
    if (!std::filesystem::is_regular_file(d.plan_file()))
        throw InputError(fmt::format("{}: not a run directory (no plan.json); pass the directory a `run` printed",
                                     d.root().string()));
    d.claim();
    d.read_plan();
    std::error_code ec;
    std::filesystem::create_directories(d.root() / "cells", ec);
    if (!ec) std::filesystem::create_directories(d.work_dir(), ec);
    if (ec) throw InputError(fmt::format("{}: cannot write in the run directory: {}", d.root().string(), ec.message()));
    return d;
}

void RunDirectory::write_plan(const nlohmann::json& plan) const { write_file_atomically(plan_file(), json_text(plan)); }

nlohmann::json RunDirectory::read_plan() const {
    auto j = parse_untrusted_json(read_file(plan_file()));
    if (j.is_discarded() || !j.is_object() || !j.contains("cells") || !j["cells"].is_array() ||
        (j.contains("run") && !j["run"].is_object()) || (j.contains("models") && !j["models"].is_array()))
        throw InputError(fmt::format("{}: not a valid run plan (a JSON object with a \"cells\" array was expected, "
                                     "and \"run\" an object and \"models\" an array where present)",
                                     plan_file().string()));
    return j;
}

void RunDirectory::write_environment(const nlohmann::json& env) const {
    write_file_atomically(environment_file(), json_text(env));
}

void RunDirectory::write_cell(const nlohmann::json& record) const {
    write_file_atomically(cell_file(record.at("id").get<std::string>()), json_text(record));
}

std::optional<nlohmann::json> RunDirectory::read_cell(const std::string& id) const {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(cell_file(id), ec)) return std::nullopt;
    try {
        auto j = parse_untrusted_json(read_file(cell_file(id)));
        if (j.is_object() && j.value("id", std::string()) == id && j.contains("status") && j["status"].is_string())
            return j;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

void RunDirectory::write_results(const nlohmann::json& document) const {
    write_file_atomically(results_file(), json_text(document));
}

}  // namespace rwkvb
