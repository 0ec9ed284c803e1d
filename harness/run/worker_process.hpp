// The parent side of a cell's isolation (DESIGN.md §3): start `rwkvbench worker` as a child
// in a session (and process group) of its own, drain its output, enforce a wall-clock timeout and
// a memory limit, kill whatever it left behind (descendants.hpp), and turn what happened into the
// cell's record. A crashing, hanging or forking plugin costs one cell.
#pragma once
#include "measure/contention.hpp"
#include "run/cell.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace rwkvb {

// The worker protocol: exit codes of `rwkvbench worker` (cmd_worker.cpp).
inline constexpr int kWorkerOk = 0;          // record written
inline constexpr int kWorkerLoadError = 10;  // plugin or model could not be loaded (record written)
inline constexpr int kWorkerError = 11;      // a plugin call failed later (record written)
inline constexpr int kWorkerOom = 12;        // std::bad_alloc (record written if possible)

struct WorkerLimits {
    double timeout_s = 600;  // must be > 0 (run_process throws std::invalid_argument otherwise)
    // 0 = none. Compared with RssAnon + RssShmem, not VmRSS: the mmapped checkpoint's clean file
    // pages are page cache the kernel can drop, and would otherwise count a model's size twice.
    uint64_t memory_limit_bytes = 0;
};

// What happened to one child process.
struct ProcessOutcome {
    int exit_code = -1;        // valid when signal == 0
    int signal = 0;            // terminating signal, 0 if it exited
    bool timed_out = false;    // we killed it at the timeout
    bool memory_killed = false;// we killed it above the memory limit
    bool stopped = false;      // we killed it because the StopFlag was set (e.g. Ctrl-C)
    bool kernel_oom_killed = false;  // SIGKILL not sent by us while the kernel's OOM-kill count rose
    uint64_t peak_rss_bytes = 0;   // ru_maxrss of the child: every resident page, file pages too
    uint64_t peak_anon_bytes = 0;  // highest RssAnon + RssShmem the watchdog saw: what the limit counts
    double wall_s = 0;
    std::string output_tail;   // last ~4 KiB of stdout+stderr, valid UTF-8 (bad bytes replaced)
    // Other processes' CPU and steal from just before the child started until it was reaped; the
    // child's rusage (its waited-for descendants included) and ours count as our own. Unknown
    // (known = false) without /proc/stat or when the child could not be reaped.
    CpuContention contention;
};

// Set it to make a running run_process kill its child and return (outcome.stopped) within 50 ms.
// Setting it is a lock-free atomic store, so a signal handler may do it (interrupt.hpp).
using StopFlag = std::atomic<bool>;

// Runs `exe args...` (argument vector, no shell, stdin from /dev/null) and waits for it; then
// kills every descendant of it that is still alive. Throws std::runtime_error only if the
// process cannot be started at all.
ProcessOutcome run_process(const std::filesystem::path& exe, const std::vector<std::string>& args,
                           const WorkerLimits& limits, const StopFlag* stop = nullptr);

// "SIGSEGV" for SIGSEGV; "signal 77" for unnamed ones.
std::string signal_abbrev(int sig);

// 75% of physical memory: the default --memory-limit.
uint64_t default_memory_limit();

// The cell's final record from the child's outcome and the record it wrote (if any, already
// checked to parse and carry the right id). Adds "worker" and overrides the status when the
// worker did not finish cleanly.
nlohmann::json classify_outcome(const CellSpec& spec, const ProcessOutcome& outcome,
                                std::optional<nlohmann::json> written, const WorkerLimits& limits);

// The record of a cell that never produced one: id, spec, status, status_detail.
nlohmann::json bare_record(const CellSpec& spec, const std::string& status, const std::string& detail);

// Runs one cell in a worker: writes the spec beside `work_dir`, starts `self_exe worker`,
// reads back the record it wrote (trusted only if it parses and its id matches). Every path
// handed to the worker is absolute, so a plugin that changes directory cannot redirect them.
// With `stop` set meanwhile the record is meaningless: the caller checks the flag and drops it.
// `outcome`, when given, receives the worker's ProcessOutcome (e.g. its contention).
nlohmann::json run_cell_in_worker(const std::filesystem::path& self_exe, const CellSpec& spec,
                                  const std::filesystem::path& work_dir, const std::filesystem::path& env_file,
                                  const WorkerLimits& limits, const StopFlag* stop = nullptr,
                                  ProcessOutcome* outcome = nullptr);

// The running executable (/proc/self/exe).
std::filesystem::path self_executable();

}  // namespace rwkvb
