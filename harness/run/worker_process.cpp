#include "run/worker_process.hpp"

#include "io/atomic_file.hpp"
#include "parity/cell_outputs.hpp"
#include "run/descendants.hpp"
#include "run/kernel_oom.hpp"
#include "io/untrusted_json.hpp"
#include "io/utf8.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <boost/process/pipe.hpp>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace rwkvb {
namespace {

constexpr size_t kTailBytes = 4096;
constexpr uintmax_t kMaxRecordBytes = uintmax_t(256) << 20;  // a record is KBs; long cells' a few MB
constexpr int kWatchdogMs = 50;

// RssAnon + RssShmem of `pid` from /proc/<pid>/status (0 once it is gone): the memory the
// process holds that the kernel cannot reclaim by dropping clean file pages.
uint64_t anon_rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    uint64_t kib = 0;
    for (std::string line; std::getline(in, line);)
        for (const char* key : {"RssAnon:", "RssShmem:"})
            if (line.rfind(key, 0) == 0) kib += std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
    return kib * 1024;
}

// The last non-empty line of the child's output, without our CLI's error prefix.
std::string last_line(const std::string& text) {
    size_t end = text.find_last_not_of(" \r\n\t");
    if (end == std::string::npos) return "";
    size_t begin = text.rfind('\n', end);
    std::string line = text.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1) + 1);
    for (const char* prefix : {"rwkvbench: error: ", "rwkvbench: internal error (please report): "})
        if (line.rfind(prefix, 0) == 0) line = line.substr(std::strlen(prefix));
    return line;
}

std::string seconds_text(double s) { return fmt::format("{:g}", s); }

}  // namespace

std::string signal_abbrev(int sig) {
    if (const char* a = ::sigabbrev_np(sig)) return std::string("SIG") + a;
    return fmt::format("signal {}", sig);
}

uint64_t default_memory_limit() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return 0;
    return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4 * 3;
}

std::filesystem::path self_executable() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot find the running executable via /proc/self/exe: " + ec.message());
    return p;
}

ProcessOutcome run_process(const std::filesystem::path& exe, const std::vector<std::string>& args,
                           const WorkerLimits& limits, const StopFlag* stop) {
    namespace bp = boost::process;
    // NaN would never time out, and a worker without a limit can hang the run forever.
    if (!(limits.timeout_s > 0)) throw std::invalid_argument(fmt::format("run_process: timeout {} s", limits.timeout_s));
    become_child_subreaper();  // helpers that leave the worker's group are re-parented to us
    ProcessOutcome out;
    bp::pipe pipe;
    std::error_code ec;
    const uint64_t oom_kills_before = kernel_oom_kill_count();
    const auto start = std::chrono::steady_clock::now();
    // Own session (so its own process group), so a timeout or the watchdog can kill helper
    // processes a driver forked, and kill_escaped_descendants can tell the ones that left the
    // group from our other children (descendants.hpp); and die with the parent (even kill -9), so
    // a killed run leaves no worker behind.
    const pid_t parent = ::getpid();
    auto registry = WorkerRegistry::lock();
    const ContentionWindow contention;  // just before the child exists
    bp::child child(bp::exe = exe.string(), bp::args = args, bp::std_in < bp::null,
                    (bp::std_out & bp::std_err) > pipe,
                    bp::extend::on_exec_setup =
                        [parent](auto&) {
                            ::setsid();
                            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                            if (::getppid() != parent) ::_exit(127);
                        },
                    ec);
    if (ec) throw std::runtime_error(fmt::format("cannot start {}: {}", exe.string(), ec.message()));
    const pid_t pid = child.id();
    WorkerRegistry::add(pid);
    registry.unlock();

    // Drain the pipe on its own thread: a child filling the 64 KiB pipe would otherwise block.
    std::atomic<bool> drain_stop{false};
    std::string tail;
    const int fd = pipe.native_source();
    std::thread drain([&] {
        char buf[4096];
        std::chrono::steady_clock::time_point stop_seen{};
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            const int r = ::poll(&p, 1, 100);
            if (r < 0 && errno == EINTR) continue;
            if (drain_stop.load()) {
                // A grandchild that escaped the group may hold the pipe open: stop within 1 s.
                const auto now = std::chrono::steady_clock::now();
                if (stop_seen == std::chrono::steady_clock::time_point{}) stop_seen = now;
                if (r == 0 || now - stop_seen > std::chrono::seconds(1)) break;
            }
            if (r <= 0) continue;
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            tail.append(buf, static_cast<size_t>(n));
            // Keep a few bytes more than the tail: utf8_tail below cuts on a character boundary.
            if (tail.size() > 2 * kTailBytes) tail.erase(0, tail.size() - kTailBytes - 4);
        }
    });

    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    auto kill_group = [&] {
        ::kill(-pid, SIGKILL);  // the group (ESRCH if setpgid had not happened yet)
        ::kill(pid, SIGKILL);
    };
    for (;;) {
        // WNOWAIT: see the exit without reaping, so the pid (= group id) stays ours while we
        // kill any helper processes left in the group.
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
            ::kill(-pid, SIGKILL);
            break;
        }
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (elapsed >= limits.timeout_s) {
            out.timed_out = true;
            kill_group();
            break;
        }
        if (stop && stop->load()) {
            out.stopped = true;
            kill_group();
            break;
        }
        const uint64_t anon = anon_rss_bytes(pid);
        out.peak_anon_bytes = std::max(out.peak_anon_bytes, anon);
        if (limits.memory_limit_bytes && anon > limits.memory_limit_bytes) {
            out.memory_killed = true;
            kill_group();
            break;
        }
        // Clamped as a double: a huge timeout must not overflow the int.
        const int wait_ms = static_cast<int>(std::clamp((limits.timeout_s - elapsed) * 1000 + 1, 1.0, double(kWatchdogMs)));
        if (pidfd >= 0) {
            pollfd p{pidfd, POLLIN, 0};
            ::poll(&p, 1, wait_ms);
        } else {
            ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
        }
    }
    int status = 0;
    rusage ru{};
    pid_t reaped;
    while ((reaped = ::wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR) {
    }
    // Without the child's rusage its CPU would count as foreign: unknown instead.
    out.contention = contention.finish(reaped == pid ? rusage_cpu_seconds(ru) : std::nan(""));
    out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (pidfd >= 0) ::close(pidfd);
    child.detach();  // reaped above: ~child must not touch the pid
    WorkerRegistry::remove(pid);
    // Helpers that called setsid() (or changed group) outlive the group kill; they are ours now.
    kill_escaped_descendants();
    drain_stop.store(true);
    drain.join();

    out.peak_rss_bytes = static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
    if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
    else if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
    const bool killed_by_us = out.timed_out || out.memory_killed || out.stopped;
    out.kernel_oom_killed = out.signal == SIGKILL && !killed_by_us && kernel_oom_kill_count() > oom_kills_before;
    out.output_tail = utf8_tail(tail, kTailBytes);
    return out;
}

nlohmann::json bare_record(const CellSpec& spec, const std::string& status, const std::string& detail) {
    return nlohmann::json{{"id", spec.id()}, {"spec", spec}, {"status", status}, {"status_detail", detail}};
}

nlohmann::json classify_outcome(const CellSpec& spec, const ProcessOutcome& o, std::optional<nlohmann::json> written,
                                const WorkerLimits& limits) {
    nlohmann::json rec = written ? std::move(*written) : bare_record(spec, kStatusError, "");
    const std::string why = last_line(o.output_tail);
    auto set = [&](const std::string& status, std::string detail) {
        rec["status"] = status;
        rec["status_detail"] = std::move(detail);
    };
    const std::string last_words = why.empty() ? "" : ": " + why;
    const bool protocol_exit = o.exit_code == kWorkerOk || o.exit_code == kWorkerLoadError ||
                               o.exit_code == kWorkerError || o.exit_code == kWorkerOom;
    // Only our own memory watchdog and the kernel's OOM killer make an `oom` here; a worker's
    // exit code alone proves nothing (a plugin can _exit(12)). A record the worker wrote with
    // status oom (std::bad_alloc caught there) stands like any other record.
    if (o.memory_killed) {
        set(kStatusOom, fmt::format("oom: anonymous memory above {:.1f} GiB limit", double(limits.memory_limit_bytes) / (1ull << 30)));
    } else if (o.timed_out) {
        set(kStatusTimeout, "timeout after " + seconds_text(limits.timeout_s) + " s");
    } else if (o.stopped) {
        set(kStatusError, "error: stopped before it finished (the run was interrupted)");
    } else if (o.kernel_oom_killed) {
        set(kStatusOom, "oom: killed by the kernel's OOM killer (SIGKILL while the OOM-kill count rose)");
    } else if (o.signal) {
        set(kStatusCrashed, fmt::format("crashed({})", signal_abbrev(o.signal)));
    } else if (!written || !protocol_exit) {
        // No trustworthy record, or an exit the worker protocol never makes: the exit code and
        // the last line of output are all there is to say.
        const char* silent = written || o.exit_code != kWorkerOk ? "" : " without a valid result record";
        set(kStatusError, fmt::format("error: worker exited with code {}{}{}", o.exit_code, silent, last_words));
    }
    rec["worker"] = nlohmann::json{
        {"exit_code", o.signal ? nlohmann::json(nullptr) : nlohmann::json(o.exit_code)},
        {"signal", o.signal},
        {"signal_name", o.signal ? signal_abbrev(o.signal) : std::string()},
        {"peak_rss_bytes", o.peak_rss_bytes},
        {"peak_anon_bytes", o.peak_anon_bytes},
        {"wall_s", o.wall_s},
        {"stderr_tail", o.output_tail},
    };
    return rec;
}

nlohmann::json run_cell_in_worker(const std::filesystem::path& self_exe, const CellSpec& spec,
                                  const std::filesystem::path& work_dir, const std::filesystem::path& env_file,
                                  const WorkerLimits& limits, const StopFlag* stop, ProcessOutcome* outcome_out) {
    const std::string id = spec.id();
    // Absolute: the worker resolves them after the plugin ran, and a plugin may chdir().
    const auto dir = std::filesystem::absolute(work_dir);
    const auto spec_file = dir / (id + ".spec.json");
    const auto result_file = dir / (id + ".result.json");
    std::filesystem::create_directories(dir);
    std::filesystem::remove(result_file);  // never trust a record or outputs from an earlier attempt
    std::filesystem::remove(outputs_file(dir, id));
    write_file_atomically(spec_file, json_text(nlohmann::json(spec)));
    std::vector<std::string> args = {"worker", "--spec", spec_file.string(), "--result", result_file.string()};
    if (!env_file.empty()) args.insert(args.end(), {"--env", std::filesystem::absolute(env_file).string()});
    const ProcessOutcome outcome = run_process(self_exe, args, limits, stop);
    std::optional<nlohmann::json> written;
    try {
        // The plugin under test can write this file: parsed as untrusted, status a string.
        auto j = parse_untrusted_json(read_regular_file(result_file, kMaxRecordBytes));
        if (j.is_object() && j.value("id", std::string()) == id && j.contains("status") && j["status"].is_string())
            written = std::move(j);
    } catch (const std::exception&) {
        // missing or torn: the exit status decides
    }
    if (outcome_out) *outcome_out = outcome;
    return classify_outcome(spec, outcome, std::move(written), limits);
}

}  // namespace rwkvb
