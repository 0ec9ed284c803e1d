// Contention: how much CPU other processes (and the hypervisor, as steal) took while something of
// ours ran. A low CV proves nothing when a neighbour makes OpenMP barriers stall on every
// repetition alike; the CPU the rest of the machine used is the evidence.
//
// Foreign CPU = the busy time of the whole machine (/proc/stat's aggregate "cpu" line) over the
// window, minus the CPU our own processes used in it (rusage), clamped at 0. /proc/stat counts in
// clock ticks and the kernel charges busy time a scheduler tick at a time, so a window carries a
// resolution (a few ticks); `contended` is only claimed beyond it, and short windows rarely are.
#pragma once
#include "cell_result.hpp"
#include <nlohmann/json.hpp>

#include <optional>
#include <string_view>

struct rusage;

namespace rwkvb {

// Foreign + steal CPU, in cores, above which a window is `contended`.
inline constexpr double kDefaultContentionBound = 0.15;

// The aggregate "cpu" line of /proc/stat, in clock ticks. `fields` is how many numbers the line
// had (4 on the oldest kernels; iowait, irq, softirq and steal came later): missing ones are 0.
// guest and guest_nice are already inside user and nice, so they are not read.
struct CpuTimes {
    unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    int fields = 0;
    int cpus = 1;  // "cpuN" lines seen (at least 1): the resolution grows with them
};

// Parses the text of /proc/stat; nullopt without an aggregate "cpu" line of at least 4 numbers.
std::optional<CpuTimes> parse_proc_stat(std::string_view text);

struct CpuSnapshot {
    std::optional<CpuTimes> times;  // nullopt: /proc/stat missing or unreadable
    double monotonic_s = 0;         // CLOCK_MONOTONIC when it was taken
    double ticks_per_s = 100;       // sysconf(_SC_CLK_TCK)
};

// Reads /proc/stat (or `path`) now. Never throws: a missing /proc gives times = nullopt.
CpuSnapshot take_cpu_snapshot(const char* path = "/proc/stat") noexcept;

// The measurement (reports/cell_result.hpp's Contention is what a cell record keeps of it).
struct CpuContention {
    bool known = false;        // both snapshots read, a positive wall time and a finite own CPU
    bool steal_known = false;  // both lines had the steal field
    double wall_s = 0;         // 0 when the snapshots' times say nothing
    double own_cpu_s = 0;      // what was counted as ours
    double foreign_cpu_s = 0;  // the machine's busy CPU seconds minus ours, clamped at 0
    double steal_s = 0;
    double foreign_cpu_cores = 0;  // foreign_cpu_s / wall_s
    double steal_cores = 0;
    double resolution_cores = 0;   // what the tick counting cannot resolve, / wall_s
    double bound_cores = kDefaultContentionBound;
    bool contended = false;        // (foreign + steal - resolution) / wall > bound; false when unknown
};

// `own_cpu_s`: CPU seconds our own processes used in the window (the worker's rusage, ours).
CpuContention measure_contention(const CpuSnapshot& before, const CpuSnapshot& after, double own_cpu_s,
                              double bound_cores = kDefaultContentionBound);

// {"foreign_cpu_cores", "steal_cores", "wall_s", "bound_cores", "resolution_cores", "contended"}:
// numbers and a bool, null where unknown.
void to_json(nlohmann::json& j, const CpuContention& c);

// The record's form (cell_result.hpp): unknown figures become null.
Contention contention_record(const CpuContention& c);

// utime + stime.
double rusage_cpu_seconds(const struct rusage& ru);
// This process's CPU seconds so far, every thread (RUSAGE_SELF); 0 if getrusage fails.
double self_cpu_seconds() noexcept;

// A window: the snapshot and our own CPU when constructed; finish() measures the contention
// since, counting this process's CPU (RUSAGE_SELF delta) and `children_cpu_s` as ours.
class ContentionWindow {
public:
    ContentionWindow() noexcept : before_(take_cpu_snapshot()), self_before_(self_cpu_seconds()) {}
    CpuContention finish(double children_cpu_s = 0, double bound_cores = kDefaultContentionBound) const;

private:
    CpuSnapshot before_;
    double self_before_;
};

}  // namespace rwkvb
