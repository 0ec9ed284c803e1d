// Worker processes: exit codes, signals, timeouts, the memory watchdog and output tails, with
// /bin/sh standing in for a worker; and the classification of outcomes into cell records.
#include "io/utf8.hpp"
#include "run/worker_process.hpp"

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

using namespace rwkvb;

namespace {

ProcessOutcome sh(const std::string& script, double timeout_s = 20, uint64_t memory_limit = 0) {
    return run_process("/bin/sh", {"-c", script}, WorkerLimits{timeout_s, memory_limit});
}

CellSpec spec() {
    CellSpec c;
    c.backend = "noop";
    c.workload = "w";
    c.scenario = Scenario::decode;
    return c;
}

}  // namespace

TEST(RunProcess, ExitCodeAndOutputTail) {
    const auto o = sh("echo to-stdout; echo to-stderr >&2; exit 11");
    EXPECT_EQ(o.exit_code, 11);
    EXPECT_EQ(o.signal, 0);
    EXPECT_FALSE(o.timed_out);
    EXPECT_NE(o.output_tail.find("to-stdout"), std::string::npos);
    EXPECT_NE(o.output_tail.find("to-stderr"), std::string::npos);
    EXPECT_GT(o.peak_rss_bytes, 0u);
}

TEST(RunProcess, TailKeepsTheEndOfLargeOutputWithoutBlocking) {
    // 1 MiB of output would fill the pipe many times over if nobody drained it.
    const auto o = sh("head -c 1048576 /dev/zero | tr '\\0' x; echo; echo THE-END");
    EXPECT_EQ(o.exit_code, 0);
    EXPECT_LE(o.output_tail.size(), 4096u);
    EXPECT_NE(o.output_tail.find("THE-END"), std::string::npos);
}

TEST(RunProcess, Signal) {
    const auto o = sh("kill -SEGV $$");
    EXPECT_EQ(o.signal, SIGSEGV);
    EXPECT_EQ(signal_abbrev(o.signal), "SIGSEGV");
}

TEST(RunProcess, TimeoutKillsTheWholeGroup) {
    const auto start = std::chrono::steady_clock::now();
    // The background sleep holds the output pipe: killing only the shell would leave it running.
    const auto o = sh("sleep 30 & sleep 30", 0.5);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(o.timed_out);
    EXPECT_EQ(o.signal, SIGKILL);
    EXPECT_LT(s, 5.0);
}

TEST(RunProcess, MemoryWatchdog) {
    // The shell itself holds ~200 MB in a variable; the limit is 64 MiB.
    const auto o = sh("x=$(head -c 200000000 /dev/zero | tr '\\0' a); sleep 30", 20, 64ull << 20);
    EXPECT_TRUE(o.memory_killed);
    EXPECT_FALSE(o.timed_out);
    EXPECT_GT(o.peak_rss_bytes, 64ull << 20);
    EXPECT_GT(o.peak_anon_bytes, 64ull << 20);
}

// A mapped checkpoint's pages are clean page cache: they count in VmRSS and ru_maxrss but not
// against the limit, which holds RssAnon + RssShmem (a 7B model's file must not look like 14 GB).
TEST(RunProcess, MemoryWatchdogIgnoresMappedFilePages) {
    // In the working directory (the build tree), not /tmp: a tmpfs file's pages are shmem.
    const auto file = std::filesystem::absolute("watchdog_mapped_file.bin");
    {
        std::ofstream out(file, std::ios::binary);
        const std::string mib(1 << 20, 'x');
        for (int i = 0; i < 128; ++i) out << mib;
    }
    const auto o = run_process(RWKVB_MAP_FILE_HELPER, {file.string(), "400"}, WorkerLimits{30, 64ull << 20});
    std::filesystem::remove(file);
    EXPECT_FALSE(o.memory_killed) << o.output_tail;
    EXPECT_EQ(o.exit_code, 0) << o.output_tail;
    EXPECT_GT(o.peak_rss_bytes, 120ull << 20);  // the file's pages were resident
    EXPECT_GT(o.peak_anon_bytes, 0u);           // the watchdog did look
    EXPECT_LT(o.peak_anon_bytes, 16ull << 20);
}

TEST(RunProcess, MissingExecutableThrows) {
    EXPECT_THROW(run_process("/nonexistent/rwkvbench", {}, WorkerLimits{}), std::runtime_error);
}

// A NaN timeout would never fire: refused here too, not only by the CLI.
TEST(RunProcess, TimeoutMustBePositive) {
    EXPECT_THROW(run_process("/bin/true", {}, WorkerLimits{std::nan(""), 0}), std::invalid_argument);
    EXPECT_THROW(run_process("/bin/true", {}, WorkerLimits{0, 0}), std::invalid_argument);
}

// The 4 KiB cut falls inside a 3-byte character (6000 bytes of '€'): the tail starts at the next
// whole one, so it is valid UTF-8 without a replacement character, and JSON can hold it.
TEST(RunProcess, OutputTailNeverCutsACharacter) {
    const auto o = sh("i=0; while [ $i -lt 2000 ]; do printf '\342\202\254'; i=$((i+1)); done");
    ASSERT_EQ(o.exit_code, 0);
    EXPECT_LE(o.output_tail.size(), 4096u);
    EXPECT_GE(o.output_tail.size(), 4093u);
    EXPECT_EQ(valid_utf8(o.output_tail), o.output_tail);
    EXPECT_EQ(o.output_tail.find("\xEF\xBF\xBD"), std::string::npos);
    EXPECT_EQ(o.output_tail.size() % 3, 0u);
    EXPECT_NO_THROW((void)nlohmann::json(o.output_tail).dump());
}

TEST(RunProcess, InvalidBytesInTheOutputAreReplaced) {
    const auto o = sh("printf 'latin-1 caf\351, stray \377\376 end'");
    EXPECT_EQ(o.output_tail, "latin-1 caf\xEF\xBF\xBD, stray \xEF\xBF\xBD\xEF\xBF\xBD end");
    EXPECT_NO_THROW((void)nlohmann::json(o.output_tail).dump());
}

// What Ctrl-C during `run` uses: the flag set from elsewhere ends the child within the 50 ms poll.
TEST(RunProcess, StopFlagEndsTheChildAtOnce) {
    StopFlag stop{false};
    std::thread asker([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        stop.store(true);
    });
    const auto start = std::chrono::steady_clock::now();
    const auto o = run_process("/bin/sh", {"-c", "sleep 30"}, WorkerLimits{20, 0}, &stop);
    asker.join();
    EXPECT_TRUE(o.stopped);
    EXPECT_FALSE(o.timed_out);
    EXPECT_EQ(o.signal, SIGKILL);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

static bool alive(pid_t pid) {  // and not a zombie
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(in, text)) return false;
    const size_t name_end = text.rfind(')');
    return name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] != 'Z';
}

// A helper that setsid()s leaves the child's group, so the group kill misses it; as a subreaper
// we inherit it when the child exits and kill it. A child of ours from elsewhere (same session as
// us) is not touched.
TEST(RunProcess, DescendantsThatLeaveTheSessionAreKilledButOurOtherChildrenAreNot) {
    namespace bp = boost::process;
    bp::child bystander(bp::exe = "/bin/sleep", bp::args = std::vector<std::string>{"30"});
    const auto pid_file = std::filesystem::temp_directory_path() / ("rwkvb_setsid_" + std::to_string(::getpid()));
    // The shell exits only once the helper has exec'd sleep, i.e. after its setsid(): otherwise the
    // group kill could catch it before it escaped, and this would test nothing.
    const auto o = sh("setsid sleep 300 >/dev/null 2>&1 & h=$!; echo $h > '" + pid_file.string() +
                      "'; s=$(readlink -f /bin/sleep); while [ \"$(readlink /proc/$h/exe)\" != \"$s\" ]; do sleep 0.01; done");
    EXPECT_EQ(o.exit_code, 0) << o.output_tail;
    pid_t escaped = 0;
    std::ifstream(pid_file) >> escaped;
    std::filesystem::remove(pid_file);
    ASSERT_GT(escaped, 0);
    EXPECT_FALSE(alive(escaped)) << "the setsid() helper " << escaped << " outlived run_process";
    if (alive(escaped)) ::kill(escaped, SIGKILL);
    EXPECT_TRUE(bystander.running());
    bystander.terminate();
    bystander.wait();
}

TEST(Classify, CleanRecordIsKeptAndAnnotated) {
    ProcessOutcome o;
    o.exit_code = 0;
    o.peak_rss_bytes = 123;
    nlohmann::json written = {{"id", spec().id()}, {"status", "ok"}, {"status_detail", ""}, {"timings", {{"x", 1}}}};
    const auto r = classify_outcome(spec(), o, written, WorkerLimits{});
    EXPECT_EQ(r["status"], "ok");
    EXPECT_EQ(r["timings"]["x"], 1);
    EXPECT_EQ(r["worker"]["exit_code"], 0);
    EXPECT_EQ(r["worker"]["peak_rss_bytes"], 123);
    EXPECT_EQ(r["worker"]["peak_anon_bytes"], 0);
}

TEST(Classify, FailuresOverrideTheStatus) {
    WorkerLimits limits{30, 2ull << 30};
    ProcessOutcome crashed;
    crashed.signal = SIGABRT;
    auto r = classify_outcome(spec(), crashed, std::nullopt, limits);
    EXPECT_EQ(r["status"], "crashed");
    EXPECT_EQ(r["status_detail"], "crashed(SIGABRT)");
    EXPECT_EQ(r["worker"]["signal_name"], "SIGABRT");
    EXPECT_TRUE(r["worker"]["exit_code"].is_null());
    EXPECT_EQ(r["id"], spec().id());

    ProcessOutcome timeout;
    timeout.timed_out = true;
    timeout.signal = SIGKILL;
    r = classify_outcome(spec(), timeout, std::nullopt, limits);
    EXPECT_EQ(r["status"], "timeout");
    EXPECT_EQ(r["status_detail"], "timeout after 30 s");

    ProcessOutcome oom;
    oom.memory_killed = true;
    oom.signal = SIGKILL;
    r = classify_outcome(spec(), oom, std::nullopt, limits);
    EXPECT_EQ(r["status"], "oom");
    EXPECT_EQ(r["status_detail"], "oom: anonymous memory above 2.0 GiB limit");

    // Without a record the exit code proves nothing, whatever protocol code it is.
    ProcessOutcome load;
    load.exit_code = kWorkerLoadError;
    load.output_tail = "noise\nrwkvbench: error: x.so: cannot load plugin: nope\n";
    r = classify_outcome(spec(), load, std::nullopt, limits);
    EXPECT_EQ(r["status"], "error");
    EXPECT_EQ(r["status_detail"], "error: worker exited with code 10: x.so: cannot load plugin: nope");

    ProcessOutcome silent;
    silent.exit_code = 0;
    r = classify_outcome(spec(), silent, std::nullopt, limits);
    EXPECT_EQ(r["status"], "error");
    EXPECT_EQ(r["status_detail"], "error: worker exited with code 0 without a valid result record");

    ProcessOutcome exit12;  // a plugin's _exit(12) is not an out-of-memory
    exit12.exit_code = kWorkerOom;
    r = classify_outcome(spec(), exit12, std::nullopt, limits);
    EXPECT_EQ(r["status"], "error");
    EXPECT_EQ(r["status_detail"], "error: worker exited with code 12");
}

TEST(Classify, OnlyTheWatchdogTheKernelOrTheWorkersOwnRecordSayOom) {
    const WorkerLimits limits{30, 2ull << 30};
    // std::bad_alloc caught in the worker: its record says oom, and stands.
    ProcessOutcome bad_alloc;
    bad_alloc.exit_code = kWorkerOom;
    nlohmann::json written = {{"id", spec().id()}, {"status", "oom"}, {"status_detail", "oom: the worker ran out of memory (std::bad_alloc)"}};
    auto r = classify_outcome(spec(), bad_alloc, written, limits);
    EXPECT_EQ(r["status"], "oom");
    EXPECT_EQ(r["status_detail"], "oom: the worker ran out of memory (std::bad_alloc)");

    // A SIGKILL we did not send, while the kernel's OOM-kill count rose.
    ProcessOutcome kernel;
    kernel.signal = SIGKILL;
    kernel.kernel_oom_killed = true;
    r = classify_outcome(spec(), kernel, std::nullopt, limits);
    EXPECT_EQ(r["status"], "oom");
    EXPECT_EQ(r["status_detail"].get<std::string>().rfind("oom: killed by the kernel's OOM killer", 0), 0u);

    // Any other SIGKILL is a crash.
    ProcessOutcome killed;
    killed.signal = SIGKILL;
    r = classify_outcome(spec(), killed, std::nullopt, limits);
    EXPECT_EQ(r["status"], "crashed");

    // A record with an exit code the protocol never makes is not trusted.
    ProcessOutcome odd;
    odd.exit_code = 3;
    written = {{"id", spec().id()}, {"status", "ok"}, {"status_detail", ""}};
    r = classify_outcome(spec(), odd, written, limits);
    EXPECT_EQ(r["status"], "error");
    EXPECT_EQ(r["status_detail"], "error: worker exited with code 3");
}
