// A cell: (backend, device, workload, scenario, dtype) — the unit the parent plans, a worker
// process runs, and the results file records (DESIGN.md §3). The spec travels to the worker as
// JSON; the worker answers with one result record (schema: reports/results.schema.json).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

// Knobs of the scenarios (DESIGN.md §4); defaults keep the default run under 3 minutes.
struct ScenarioParams {
    int prompt_tokens = 128;     // prefill length, and the prompt before decode/batch
    int decode_tokens = 64;      // tokens decoded one at a time (decode, batch)
    int batch = 8;               // streams of the batch scenario
    int long_positions = 16384;  // how far the long scenario decodes
    int long_samples = 16;       // positions at which it measures
    int parity_tokens = 64;      // tokens compared with the golden
    int warmup = 1;              // un-timed repetitions first
    int repetitions = 5;         // timed repetitions (at least)
    double min_time_s = 1.0;     // keep repeating until this much was measured
};

struct CellSpec {
    std::string backend;                 // backend name, e.g. "onednn"
    std::filesystem::path plugin_path;   // the plugin library that provides it
    int device = 0;                      // device index within the backend
    std::string workload;                // preset name, or the checkpoint's file name
    std::filesystem::path model_path;    // checkpoint to load (synthetic presets are written first)
    std::string scenario;                // prefill | decode | batch | long | parity
    std::string dtype = "f32";           // weight dtype, command-line spelling
    uint64_t seed = 1;                   // token stream (and synthetic weights) seed
    int threads = 0;                     // 0 = backend default
    double timeout_s = 600;              // wall-clock limit of the worker
    std::string plugin_options;          // extra "key=value,..." passed to create()
    ScenarioParams params;
    // Parity thresholds overriding DESIGN.md §6 defaults (absent = default for the dtype).
    nlohmann::json parity_thresholds = nlohmann::json::object();

    // Stable, filesystem-safe identifier: "<backend>.<device>.<workload>.<scenario>.<dtype>".
    std::string id() const;
};

// One field of an id: [A-Za-z0-9_+-] kept, anything else '_' ("my.model" → "my_model").
std::string safe_id_component(const std::string& s);

// SHA-256 of the spec's canonical JSON (keys sorted, no whitespace). The plan's cells and every
// cell record carry it, so --resume can tell a record made for another spec from one of its own.
std::string spec_hash(const CellSpec& spec);
// Puts the parent's own copy of the spec, and its hash, into a cell record: what the worker
// wrote there is not trusted.
void stamp_spec(nlohmann::json& record, const CellSpec& spec);
// Why `record` was not made for `spec` (e.g. "params.decode_tokens is 32, the plan says 8"), or ""
// if it was. Its "spec_hash", when present, and its stored "spec" must both match; records
// written before spec_hash existed are judged by their stored spec alone.
std::string record_spec_mismatch(const nlohmann::json& record, const CellSpec& spec);

void to_json(nlohmann::json& j, const ScenarioParams& p);
void from_json(const nlohmann::json& j, ScenarioParams& p);
void to_json(nlohmann::json& j, const CellSpec& c);
void from_json(const nlohmann::json& j, CellSpec& c);

// What the worker needs besides the spec: where caches live and this host's limits.
struct CellEnvironment {
    std::filesystem::path cache_dir;                      // golden logits cache, synthetic weights
    nlohmann::json limits = nlohmann::json::object();     // `rwkvbench limits` document, if any
};

// Status classes a cell can end in (DESIGN.md §3); a result record's "status" is one of these.
inline constexpr const char* kStatusOk = "ok";
inline constexpr const char* kStatusCrashed = "crashed";      // detail: "crashed(SIGSEGV)"
inline constexpr const char* kStatusTimeout = "timeout";
inline constexpr const char* kStatusOom = "oom";
inline constexpr const char* kStatusLoadError = "load-error";
inline constexpr const char* kStatusError = "error";          // detail: "error: <message>"
inline constexpr const char* kStatusSkipped = "skipped";      // e.g. no device, dtype not offered
// Ran, but the logits it produced while timed differ from the golden (cell_verdict.hpp): its
// speed is not a figure of this backend doing the work it was asked to do.
inline constexpr const char* kStatusInvalid = "invalid";      // detail: "invalid: <check>: <why>"

// The long scenario's window starts (scenarios.cpp): up to `samples` log-spaced positions in
// [16, total − 5], each more than 4 past the one before (a window is 1 un-timed + 4 timed
// tokens), the last window ending exactly at `total` when it fits.
std::vector<int> long_window_positions(int total, int samples);

// Runs one cell in this process: loads plugin and model, runs the scenario, and writes the
// logits its output checks capture (output_checks.hpp) to `outputs` (if not empty) for the
// parent to judge (cell_verdict.hpp): nothing decided in here is trusted. Returns the cell's
// result record. Throws InputError/PluginError on a load or call failure. In scenarios.cpp.
nlohmann::json run_cell(const CellSpec& spec, const CellEnvironment& env, const std::filesystem::path& outputs);

}  // namespace rwkvb
