// One cell's result, typed (schema: results.schema.json, "cell"). The worker's scenario fills it,
// the parent completes it (worker outcome, contention, verdicts), and every writer and command
// (report, compare, merge, certify) reads it — the one run record, as Google Benchmark has its
// `Run`. Fields every reader needs are typed; diagnostic subtrees that are only carried and
// shown (parity metrics, golden provenance, long-run series, model dims) stay JSON.
#pragma once
#include "cell_spec.hpp"
#include "vocabulary.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rwkvb {

// Summary statistics of one kind of sample (seconds unless the key says otherwise).
struct Stats {
    int64_t n = 0;
    double median = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0, stddev = 0, cv = 0;
    double ci95_low = 0, ci95_high = 0, ci95_coverage = 0;
    bool noisy = false;           // cv above the threshold it was summarised with
    std::vector<double> samples;  // in measurement order; every samples_stride-th when long
    int64_t samples_stride = 1;
};

struct Throughput {
    double tokens_per_s = 0;  // the scenario's one speed (README, "What the numbers mean")
    std::optional<double> per_stream_tokens_per_s;  // batch
    std::optional<double> time_to_first_logits_s;   // prefill
    std::optional<double> advance_tokens_per_s;     // long: sequence-mode chunks between windows
};

// What bounds a scenario: decode reads every weight once per step (memory), prefill multiplies
// whole prompts (compute). The table shows the fraction of the bounding limit only.
enum class Bound { memory, compute };
template <>
struct Vocabulary<Bound> {
    static constexpr std::string_view what = "bound";
    static constexpr std::array<std::pair<Bound, std::string_view>, 2> names{
        {{Bound::memory, "memory"}, {Bound::compute, "compute"}}};
};

struct Roofline {
    Bound bound = Bound::memory;
    double achieved_gbps = 0, achieved_gflops = 0;
    std::optional<double> gbps_fraction_of_limit, gflops_fraction_of_limit;  // none without limits
    double bytes_per_iteration = 0, flops_per_iteration = 0;
    // Achieved / limit of the bound that applies, when known.
    std::optional<double> bounding_fraction() const {
        return bound == Bound::memory ? gbps_fraction_of_limit : gflops_fraction_of_limit;
    }
};

struct PluginMemory {
    uint64_t weights = 0, state = 0, workspace = 0, peak = 0;
};
struct Memory {
    PluginMemory plugin;
    uint64_t theoretical_weight_bytes = 0, state_bytes_per_stream = 0, peak_rss_bytes = 0;
};

// Noise as users mean it: the spread of whole repetitions (what a rerun would see), with the
// per-token spread inside them reported apart as jitter.
struct Noise {
    double cv = 0;              // coefficient of variation of the repetition-level samples
    double threshold = 0;       // flagged noisy above it
    bool noisy = false;
    int64_t repetitions = 0;
    std::optional<double> jitter_cv;  // per-token (per-step) latencies, decode/batch/long
};

// CPU time of other processes (and steal) while the cell ran, as a fraction of one core.
struct Contention {
    std::optional<double> foreign_cpu_cores, steal_cores;  // null: /proc/stat unreadable
    double wall_s = 0;
    double bound_cores = 0;
    double resolution_cores = 0;  // what /proc/stat's 10 ms ticks cannot resolve over wall_s
    bool contended = false;       // (foreign + steal − resolution) above the bound
};

// What the parent saw of the worker process (absent with --no-isolate).
struct WorkerOutcome {
    std::optional<int> exit_code;  // null when killed by a signal
    int signal = 0;
    std::string signal_name;
    uint64_t peak_rss_bytes = 0;
    std::optional<uint64_t> peak_anon_bytes;
    double wall_s = 0;
    std::string stderr_tail;
};

struct DeviceInfo {
    int64_t index = 0;
    std::string name, vendor, driver_version, description;
    uint64_t memory_bytes = 0, compute_units = 0;
    std::vector<std::string> weight_dtypes, compute_dtypes;  // command-line spelling: f32, int8
    std::string logits_dtype;                                // f32 or f64
};
struct BackendInfo {
    std::string name, version, plugin_path;
    DeviceInfo device;
};

// A verdict given by the parent, its failures in words, and the metrics behind it (JSON: the
// parity and verification objects of the schema minus these two keys).
struct Judgement {
    Verdict verdict = Verdict::fail;
    std::vector<std::string> failures;
    nlohmann::json detail = nlohmann::json::object();
};

struct Certification {
    GroupVerdict group_verdict = GroupVerdict::none;
    bool certified = false;
};

struct CellResult {
    std::string id;
    CellSpec spec;
    std::string spec_hash;  // SHA-256 of the spec's canonical JSON (harness/run/cell.hpp)
    std::string repro;      // the command line that runs this cell again
    CellStatus status = CellStatus::error;
    std::string status_detail;
    std::optional<std::string> origin;  // merged documents: the run this cell came from

    std::optional<WorkerOutcome> worker;
    std::optional<BackendInfo> backend;
    nlohmann::json model;  // workload, version, dims, params, costs, sha256 (null when not loaded)
    std::optional<double> load_s;
    std::map<std::string, Stats> timings;  // forward (prefill), token, step and sequence (batch)
    std::optional<Throughput> throughput;
    std::optional<Roofline> roofline;
    std::optional<Memory> memory;
    std::optional<Noise> noise;
    std::optional<Contention> contention;
    nlohmann::json host_load;  // {"before", "after"} snapshots (null when not taken)
    nlohmann::json long_run;   // the long scenario's series (null for other scenarios)
    std::optional<Judgement> parity;        // parity cells
    std::optional<Judgement> verification;  // timed cells: their own output checked
    std::optional<Certification> certification;  // set by make_run_document
    // `run --interleave N`: the number of rounds (worker processes, one per round of the run)
    // whose records were merged into this one (harness/run/interleave.hpp); absent when the cell
    // was measured in one go. JSON: "interleave": {"rounds": N}.
    std::optional<int> interleave_rounds;

    bool ran() const { return status == CellStatus::ok || status == CellStatus::invalid; }
    bool timed() const { return spec.scenario != Scenario::parity; }
    bool noisy() const { return timed() && noise && noise->noisy; }
    bool contended() const { return contention && contention->contended; }
    // The parity cell's own verdict when it ran.
    std::optional<Verdict> parity_verdict() const {
        return status == CellStatus::ok && parity ? std::optional(parity->verdict) : std::nullopt;
    }
    // The statistics the scenario is judged by (prefill: forward; batch: step; else token).
    const Stats* primary_timing() const;
    // The repetition-level samples (seconds per repetition) that speed comparisons use.
    const Stats* repetition_timing() const;
};

// A cell that did not run (skipped, or failed before any record was written).
CellResult bare_result(const CellSpec& spec, CellStatus status, std::string detail);

void to_json(nlohmann::json& j, const CellResult& c);
// Reads a record as written by any version of rwkvbench (schema v1 or v2). A record is
// untrusted bytes (a worker wrote it; a person may have edited it): fields of the wrong type are
// ignored, and a record without a readable id or status becomes status `error` saying so. Never
// throws.
CellResult cell_result_from_json(const nlohmann::json& j);

void to_json(nlohmann::json& j, const Stats& s);
void to_json(nlohmann::json& j, const Roofline& r);
void to_json(nlohmann::json& j, const Judgement& v);

}  // namespace rwkvb
