// Contention: /proc/stat parsing and the arithmetic (pure), real windows through run_process (a
// busy sibling is foreign, a busy worker or harness is not), and when cached limits are stale.
#include "measure/contention.hpp"
#include "measure/limits.hpp"
#include "run/worker_process.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

namespace rwkvb {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A 2-CPU host on a recent kernel (guest, guest_nice at the end), interrupts after the cpu lines.
constexpr const char* kModern =
    "cpu  10132153 290696 3084719 46828483 16683 0 25195 175628 0 0\n"
    "cpu0 5066076 145348 1542359 23414241 8341 0 12597 87814 0 0\n"
    "cpu1 5066077 145348 1542360 23414242 8342 0 12598 87814 0 0\n"
    "intr 114930548 113199788 3 0 5 263 0 4 [...]\n"
    "ctxt 1990473561\nbtime 1062191376\nprocesses 2915873\n";

CpuSnapshot snap(const char* text, double t, double hz = 100) {
    return CpuSnapshot{parse_proc_stat(text), t, hz};
}

// user nice system idle iowait irq softirq steal, as a one-CPU /proc/stat.
std::string stat_line(unsigned long long user, unsigned long long nice, unsigned long long system,
                      unsigned long long idle, unsigned long long iowait, unsigned long long irq,
                      unsigned long long softirq, unsigned long long steal) {
    return "cpu  " + std::to_string(user) + " " + std::to_string(nice) + " " + std::to_string(system) + " " +
           std::to_string(idle) + " " + std::to_string(iowait) + " " + std::to_string(irq) + " " +
           std::to_string(softirq) + " " + std::to_string(steal) + " 0 0\ncpu0 0 0 0 0\n";
}

TEST(ParseProcStat, ReadsTheAggregateLineAndCountsCpus) {
    const auto t = parse_proc_stat(kModern);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->user, 10132153u);
    EXPECT_EQ(t->nice, 290696u);
    EXPECT_EQ(t->system, 3084719u);
    EXPECT_EQ(t->idle, 46828483u);
    EXPECT_EQ(t->iowait, 16683u);
    EXPECT_EQ(t->irq, 0u);
    EXPECT_EQ(t->softirq, 25195u);
    EXPECT_EQ(t->steal, 175628u);  // not guest, which follows it
    EXPECT_EQ(t->fields, 8);
    EXPECT_EQ(t->cpus, 2);
}

TEST(ParseProcStat, OlderKernelsHaveFewerFields) {
    // 2.6.0–2.6.10: no steal.
    auto t = parse_proc_stat("cpu  100 2 30 400 5 6 7\ncpu0 100 2 30 400 5 6 7\n");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->fields, 7);
    EXPECT_EQ(t->softirq, 7u);
    EXPECT_EQ(t->steal, 0u);
    // 2.4: user nice system idle only, and tabs.
    t = parse_proc_stat("cpu\t1 2 3 4\n");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->fields, 4);
    EXPECT_EQ(t->idle, 4u);
    EXPECT_EQ(t->cpus, 1);  // no cpuN lines: at least one
}

TEST(ParseProcStat, NothingUsableIsNullopt) {
    EXPECT_FALSE(parse_proc_stat(""));
    EXPECT_FALSE(parse_proc_stat("intr 1 2 3\nctxt 5\n"));
    EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4\ncpu1 1 2 3 4\n"));  // per-CPU lines, no aggregate
    EXPECT_FALSE(parse_proc_stat("cpu  1 2 3\n"));                   // too short to know idle
    EXPECT_FALSE(parse_proc_stat("cpu  1 2 x 4 5\n"));
    EXPECT_FALSE(parse_proc_stat("cpufreq 1 2 3 4\n"));
}

TEST(Contention, ArithmeticOverAWindow) {
    // Over 2 s: busy = user 100 + nice 10 + system 40 + irq 5 + softirq 5 ticks = 1.6 s; idle and
    // iowait do not count; steal 20 ticks = 0.2 s. Our own 0.6 s leaves 1.0 s foreign.
    const std::string a = stat_line(1000, 100, 400, 5000, 50, 10, 10, 30);
    const std::string b = stat_line(1100, 110, 440, 5300, 90, 15, 15, 50);
    const CpuContention c = measure_contention(snap(a.c_str(), 10.0), snap(b.c_str(), 12.0), 0.6);
    ASSERT_TRUE(c.known);
    ASSERT_TRUE(c.steal_known);
    EXPECT_DOUBLE_EQ(c.wall_s, 2.0);
    EXPECT_DOUBLE_EQ(c.own_cpu_s, 0.6);
    EXPECT_NEAR(c.foreign_cpu_s, 1.0, 1e-9);
    EXPECT_NEAR(c.foreign_cpu_cores, 0.5, 1e-9);
    EXPECT_NEAR(c.steal_s, 0.2, 1e-9);
    EXPECT_NEAR(c.steal_cores, 0.1, 1e-9);
    EXPECT_NEAR(c.resolution_cores, 2 * 0.01 / 2.0, 1e-9);  // 2 ticks × sqrt(1 CPU) over 2 s
    EXPECT_TRUE(c.contended);
    EXPECT_DOUBLE_EQ(c.bound_cores, kDefaultContentionBound);

    const json j = c;
    EXPECT_EQ(j.size(), 6u) << j.dump();
    EXPECT_NEAR(j["foreign_cpu_cores"].get<double>(), 0.5, 1e-9);
    EXPECT_NEAR(j["steal_cores"].get<double>(), 0.1, 1e-9);
    EXPECT_DOUBLE_EQ(j["wall_s"].get<double>(), 2.0);
    EXPECT_DOUBLE_EQ(j["bound_cores"].get<double>(), 0.15);
    EXPECT_EQ(j["contended"], true);
    const json limits = {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 10}, {"measured_under", j}};
    EXPECT_TRUE(validate_json(limits, testing::sub_schema(load_results_schema(), "limits")).empty());
}

TEST(Contention, ForeignIsClampedAtZero) {
    // Our rusage is exact, the ticks are not: more own CPU than the machine's busy time is 0 foreign.
    const std::string a = stat_line(1000, 0, 0, 0, 0, 0, 0, 0), b = stat_line(1050, 0, 0, 0, 0, 0, 0, 0);
    const CpuContention c = measure_contention(snap(a.c_str(), 0), snap(b.c_str(), 1), 0.7);
    EXPECT_TRUE(c.known);
    EXPECT_EQ(c.foreign_cpu_s, 0.0);
    EXPECT_FALSE(c.contended);
    // A counter that went backwards adds nothing either, and a negative own CPU is none.
    const std::string back = stat_line(900, 0, 0, 0, 0, 0, 0, 0);
    EXPECT_EQ(measure_contention(snap(a.c_str(), 0), snap(back.c_str(), 1), -3).foreign_cpu_s, 0.0);
}

TEST(Contention, TheBoundIsForeignPlusStealBeyondTheResolution) {
    // 10 s on one CPU: the resolution is 0.02 s = 0.002 cores.
    auto at = [](unsigned long long foreign_ticks, unsigned long long steal_ticks, double bound = kDefaultContentionBound) {
        const std::string a = stat_line(0, 0, 0, 0, 0, 0, 0, 0);
        const std::string b = stat_line(foreign_ticks, 0, 0, 0, 0, 0, 0, steal_ticks);
        return measure_contention(snap(a.c_str(), 100), snap(b.c_str(), 110), 0.0, bound);
    };
    EXPECT_FALSE(at(150, 0).contended);  // 0.150 - 0.002 cores
    EXPECT_TRUE(at(155, 0).contended);   // 0.153 cores
    EXPECT_FALSE(at(100, 50).contended);
    EXPECT_TRUE(at(100, 55).contended);  // steal counts as well
    EXPECT_FALSE(at(155, 0, 0.5).contended);
    EXPECT_DOUBLE_EQ(at(155, 0, 0.5).bound_cores, 0.5);
    EXPECT_TRUE(at(3000, 0, 0.5).contended);
    // A 5 ms window cannot resolve one tick of foreign CPU: not claimed.
    const std::string a = stat_line(0, 0, 0, 0, 0, 0, 0, 0), b = stat_line(1, 0, 0, 0, 0, 0, 0, 0);
    const CpuContention short_window = measure_contention(snap(a.c_str(), 0), snap(b.c_str(), 0.005), 0.0);
    EXPECT_DOUBLE_EQ(short_window.foreign_cpu_cores, 2.0);
    EXPECT_GT(short_window.resolution_cores, 2.0);
    EXPECT_FALSE(short_window.contended);
}

TEST(Contention, MissingStealIsUnknownNotZero) {
    const char* a = "cpu  100 0 0 0 0 0 0\n";
    const char* b = "cpu  200 0 0 0 0 0 0\n";
    const CpuContention c = measure_contention(snap(a, 0), snap(b, 1), 0.0);
    EXPECT_TRUE(c.known);
    EXPECT_FALSE(c.steal_known);
    EXPECT_NEAR(c.foreign_cpu_cores, 1.0, 1e-9);
    const json j = c;
    EXPECT_TRUE(j["steal_cores"].is_null());
    EXPECT_EQ(j["contended"], true);
    // With only 4 fields, irq and softirq are absent: user + nice + system.
    const CpuContention old = measure_contention(snap("cpu 100 10 10 0\n", 0), snap("cpu 150 20 30 0\n", 1), 0.0);
    EXPECT_NEAR(old.foreign_cpu_s, 0.8, 1e-9);
}

TEST(Contention, NoProcStatIsUnknownAndNeverThrows) {
    CpuSnapshot missing;
    EXPECT_NO_THROW(missing = take_cpu_snapshot("/nonexistent/proc/stat"));
    EXPECT_FALSE(missing.times);
    const CpuSnapshot real = take_cpu_snapshot();
    if (fs::exists("/proc/stat")) {
        ASSERT_TRUE(real.times);
        EXPECT_GE(real.times->fields, 4);
        EXPECT_GE(real.times->cpus, 1);
        EXPECT_GE(real.monotonic_s, missing.monotonic_s);
    }
    missing.monotonic_s = real.monotonic_s - 1;
    const CpuContention c = measure_contention(missing, real, 0.1);
    EXPECT_FALSE(c.known);
    EXPECT_FALSE(c.contended);
    const json j = c;
    for (const char* key : {"foreign_cpu_cores", "steal_cores", "resolution_cores", "contended"})
        EXPECT_TRUE(j[key].is_null()) << key << ": " << j.dump();
    EXPECT_NEAR(j["wall_s"].get<double>(), 1.0, 1e-6);  // the clock still says how long
    EXPECT_DOUBLE_EQ(j["bound_cores"].get<double>(), 0.15);
    // An own CPU that is not known (the child could not be reaped) is no measurement either.
    EXPECT_FALSE(measure_contention(real, real, 0.0).known);  // no wall time
    CpuSnapshot later = real;
    later.monotonic_s += 1;
    EXPECT_FALSE(measure_contention(real, later, std::nan("")).known);
    EXPECT_TRUE(json(CpuContention{})["wall_s"].is_null());
}

// --- Real windows. The host may be small and busy: a spinning sibling is asserted at half a core
// (it gives about one), and the "not foreign" checks retry for a quiet moment, or skip.

// Spins until `seconds` have passed, in a forked process of this test's session (so not a worker).
pid_t spinning_sibling(double seconds) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const auto end = Clock::now() + std::chrono::duration<double>(seconds);
        volatile unsigned long sink = 0;
        while (Clock::now() < end)
            for (int i = 0; i < 10000; ++i) sink = sink + 1;
        ::_exit(0);
    }
    return pid;
}

TEST(ContentionReal, ABusySiblingProcessIsForeign) {
    if (!fs::exists("/proc/stat")) GTEST_SKIP() << "no /proc/stat";
    const pid_t sibling = spinning_sibling(1.4);
    ASSERT_GT(sibling, 0);
    const ProcessOutcome o = run_process("/bin/sleep", {"1"}, WorkerLimits{20, 0});
    int status = 0;
    ::waitpid(sibling, &status, 0);
    ASSERT_EQ(o.exit_code, 0) << o.output_tail;
    const CpuContention& c = o.contention;
    ASSERT_TRUE(c.known);
    EXPECT_NEAR(c.wall_s, o.wall_s, 0.05);
    EXPECT_GE(c.foreign_cpu_cores, 0.5) << json(c).dump();
    EXPECT_TRUE(c.contended) << json(c).dump();
}

// Our own busy CPU (a worker's spinning child, a thread of ours) is counted as ours, so it
// cannot be foreign: foreign is the machine's busy time minus ours by construction. Asserted on
// the accounting rather than on the foreign figure, which other processes on a shared host (and
// ctest -j2) move at will: ours must hold nearly all of the spin, and ours + foreign never
// exceeds the machine (ours is not counted twice).
template <class Measure>
void expect_not_foreign(Measure measure, double spin_s) {
    const CpuSnapshot probe = take_cpu_snapshot();
    ASSERT_TRUE(probe.times);
    const CpuContention c = measure();
    ASSERT_TRUE(c.known);
    EXPECT_GE(c.own_cpu_s, 0.8 * spin_s) << "the spin was not seen as ours: " << json(c).dump();
    EXPECT_LE((c.foreign_cpu_s + c.own_cpu_s) / c.wall_s, probe.times->cpus + c.resolution_cores + 0.05) << json(c).dump();
}

TEST(ContentionReal, AWorkerThatSpinsIsNotForeign) {
    if (!fs::exists("/proc/stat")) GTEST_SKIP() << "no /proc/stat";
    // The spinning shell is the worker's own child: wait4's rusage counts it with the worker.
    expect_not_foreign([] {
        const ProcessOutcome o = run_process("/bin/sh", {"-c", "timeout 1 sh -c 'while :; do :; done'; exit 0"},
                                             WorkerLimits{20, 0});
        EXPECT_EQ(o.exit_code, 0) << o.output_tail;
        EXPECT_GT(o.wall_s, 0.9);
        return o.contention;
    }, 1.0);
}

TEST(ContentionReal, OurOwnThreadsAreNotForeign) {
    if (!fs::exists("/proc/stat")) GTEST_SKIP() << "no /proc/stat";
    // What the harness (or a limits measurement) does in its own threads is RUSAGE_SELF's.
    expect_not_foreign([] {
        const ContentionWindow w;
        std::thread spin([] {
            const auto end = Clock::now() + std::chrono::milliseconds(800);
            volatile unsigned long sink = 0;
            while (Clock::now() < end) sink = sink + 1;
        });
        spin.join();
        return w.finish();
    }, 0.8);
}

// --- Cached limits: when they are measured again.

std::string iso(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

json clean_under() {
    return {{"foreign_cpu_cores", 0.02}, {"steal_cores", 0.0}, {"wall_s", 9.5}, {"bound_cores", 0.15},
            {"resolution_cores", 0.003}, {"contended", false}};
}

json limits_doc(const json& under, const std::string& measured_at) {
    json j = {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 12.5}, {"gemm_f32_gflops", 40}, {"threads", 3}};
    if (!under.is_null()) j["measured_under"] = under;
    if (!measured_at.empty()) j["measured_at"] = measured_at;
    return j;
}

TEST(LimitsStaleness, CurrentCleanLimitsAreKept) {
    const auto now = std::chrono::system_clock::from_time_t(1715169600);  // 2024-05-08T12:00:00Z
    using std::chrono::hours;
    EXPECT_EQ(limits_staleness(limits_doc(clean_under(), "2024-05-08T11:00:00Z"), now), "");
    EXPECT_EQ(limits_staleness(limits_doc(clean_under(), iso(now - hours(24 * 6))), now), "");
    // Contention not known (no /proc/stat when measured): measuring again would not know more.
    json unknown = clean_under();
    unknown["contended"] = nullptr;
    unknown["foreign_cpu_cores"] = nullptr;
    EXPECT_EQ(limits_staleness(limits_doc(unknown, iso(now)), now), "");
    EXPECT_EQ(kLimitsMaxAge, hours(24 * 7));
}

TEST(LimitsStaleness, ContendedOldOrUnrecordedLimitsAreStale) {
    const auto now = std::chrono::system_clock::from_time_t(1715169600);
    using std::chrono::hours;
    json contended = clean_under();
    contended["contended"] = true;
    contended["foreign_cpu_cores"] = 0.9;
    std::string why = limits_staleness(limits_doc(contended, iso(now)), now);
    EXPECT_NE(why.find("contention"), std::string::npos) << why;
    EXPECT_NE(why.find("0.90"), std::string::npos) << why;

    why = limits_staleness(limits_doc(clean_under(), iso(now - hours(24 * 8))), now);
    EXPECT_NE(why.find("8.0 days ago"), std::string::npos) << why;
    EXPECT_NE(limits_staleness(limits_doc(clean_under(), iso(now - hours(24))), now, hours(12)), "");  // bound is a parameter

    why = limits_staleness(limits_doc(nullptr, iso(now)), now);  // a cache from before measured_under
    EXPECT_NE(why.find("measured_under"), std::string::npos) << why;
    EXPECT_NE(limits_staleness(limits_doc("clean", iso(now)), now), "");
    EXPECT_NE(limits_staleness(limits_doc(json::object(), iso(now)), now), "");  // no verdict at all

    EXPECT_NE(limits_staleness(limits_doc(clean_under(), ""), now), "");  // no measured_at
    for (const char* bad : {"yesterday", "2024-05-08", "2024-13-01T00:00:00Z", "2024-05-08T12:00:00Z junk"})
        EXPECT_NE(limits_staleness(limits_doc(clean_under(), bad), now), "") << bad;
    why = limits_staleness(limits_doc(clean_under(), iso(now + hours(48))), now);  // clock set back since
    EXPECT_NE(why.find("future"), std::string::npos) << why;
}

struct TempCache {
    fs::path path = fs::temp_directory_path() / ("rwkvb-contention-" + std::to_string(::getpid()));
    TempCache() {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempCache() { fs::remove_all(path); }
};

TEST(LimitsStaleness, StaleCachesCountAsMissingWithANote) {
    TempCache tmp;
    const fs::path p = limits_cache_path(tmp.path, 3);
    fs::create_directories(p.parent_path());
    const std::string now = iso(std::chrono::system_clock::now());

    std::ofstream(p) << limits_doc(clean_under(), now).dump();
    json j = load_or_measure_limits(tmp.path, false, 3);
    EXPECT_EQ(j["memory_read_gbps"], 12.5);
    EXPECT_FALSE(j.contains("stale"));
    EXPECT_TRUE(validate_json(j, testing::sub_schema(load_results_schema(), "limits")).empty()) << j.dump();

    json contended = clean_under();
    contended["contended"] = true;
    for (const json& doc : {limits_doc(contended, now), limits_doc(nullptr, now),
                            limits_doc(clean_under(), iso(std::chrono::system_clock::now() - std::chrono::hours(24 * 30)))}) {
        std::ofstream(p) << doc.dump();
        ::testing::internal::CaptureStderr();
        j = load_or_measure_limits(tmp.path, false, 3);
        const std::string note = ::testing::internal::GetCapturedStderr();
        EXPECT_TRUE(j.empty()) << doc.dump();
        EXPECT_NE(note.find("are stale ("), std::string::npos) << note;
        EXPECT_NE(note.find("not used"), std::string::npos) << note;
        EXPECT_EQ(std::count(note.begin(), note.end(), '\n'), 1) << note;
        // A run told not to measure may use them as they are; they say why they are stale.
        ::testing::internal::CaptureStderr();
        j = load_or_measure_limits(tmp.path, false, 3, /*use_stale=*/true);
        ::testing::internal::GetCapturedStderr();
        EXPECT_EQ(j["memory_read_gbps"], 12.5) << doc.dump();
        EXPECT_TRUE(j["stale"].is_string() && !j["stale"].get<std::string>().empty()) << j.dump();
        EXPECT_TRUE(validate_json(j, testing::sub_schema(load_results_schema(), "limits")).empty()) << j.dump();
    }
    // Implausible stays implausible, whatever use_stale says.
    std::ofstream(p) << json{{"schema", "rwkvbench-limits"}, {"memory_read_gbps", -1}, {"gemm_f32_gflops", 40}}.dump();
    ::testing::internal::CaptureStderr();
    EXPECT_TRUE(load_or_measure_limits(tmp.path, false, 3, true).empty());
    ::testing::internal::GetCapturedStderr();
}

}  // namespace
}  // namespace rwkvb
