// Worker processes: exit codes, signals, timeouts, the memory watchdog and output tails, with
// /bin/sh standing in for a worker; and the classification of outcomes into cell records.
#include "worker_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace rwkvb;

namespace {

ProcessOutcome sh(const std::string& script, double timeout_s = 20, uint64_t memory_limit = 0) {
    return run_process("/bin/sh", {"-c", script}, WorkerLimits{timeout_s, memory_limit});
}

CellSpec spec() {
    CellSpec c;
    c.backend = "noop";
    c.workload = "w";
    c.scenario = "decode";
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

    ProcessOutcome load;
    load.exit_code = kWorkerLoadError;
    load.output_tail = "noise\nrwkvbench: error: x.so: cannot load plugin: nope\n";
    r = classify_outcome(spec(), load, std::nullopt, limits);
    EXPECT_EQ(r["status"], "load-error");
    EXPECT_EQ(r["status_detail"], "load-error: x.so: cannot load plugin: nope");

    ProcessOutcome silent;
    silent.exit_code = 0;
    r = classify_outcome(spec(), silent, std::nullopt, limits);
    EXPECT_EQ(r["status"], "error");

    ProcessOutcome bad_alloc;
    bad_alloc.exit_code = kWorkerOom;
    r = classify_outcome(spec(), bad_alloc, std::nullopt, limits);
    EXPECT_EQ(r["status"], "oom");
}
