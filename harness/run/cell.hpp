// A cell: (backend, device, workload, scenario, dtype) — the unit the parent plans, a worker
// process runs, and the results file records (DESIGN.md §3). The spec travels to the worker as
// JSON; the worker answers with one result record (schema: reports/results.schema.json).
#pragma once
#include "cell_result.hpp"
#include "cell_spec.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

// SHA-256 of the spec's canonical JSON (keys sorted, no whitespace). The plan's cells and every
// cell record carry it, so --resume can tell a record made for another spec from one of its own.
std::string spec_hash(const CellSpec& spec);
// Puts the parent's own copy of the spec, and its hash, into a cell record: what the worker
// wrote there is not trusted.
void stamp_spec(CellResult& record, const CellSpec& spec);
// Why `record` was not made for `spec` (e.g. "params.decode_tokens is 32, the plan says 8"), or ""
// if it was. Its "spec_hash", when present, and its stored "spec" must both match; records
// written before spec_hash existed are judged by their stored spec alone.
std::string record_spec_mismatch(const nlohmann::json& record, const CellSpec& spec);


// What the worker needs besides the spec: where caches live and this host's limits.
struct CellEnvironment {
    std::filesystem::path cache_dir;                      // golden logits cache, synthetic weights
    nlohmann::json limits = nlohmann::json::object();     // `rwkvbench limits` document, if any
};

// The status names, for the code that handles a record as untrusted JSON before it is typed
// (worker_process.cpp classifies a worker's outcome; discovery describes plugins).
inline const std::string kStatusOk{to_string(CellStatus::ok)};
inline const std::string kStatusCrashed{to_string(CellStatus::crashed)};  // detail: "crashed(SIGSEGV)"
inline const std::string kStatusTimeout{to_string(CellStatus::timeout)};
inline const std::string kStatusOom{to_string(CellStatus::oom)};
inline const std::string kStatusLoadError{to_string(CellStatus::load_error)};
inline const std::string kStatusError{to_string(CellStatus::error)};      // detail: "error: <message>"
inline const std::string kStatusSkipped{to_string(CellStatus::skipped)};
inline const std::string kStatusInvalid{to_string(CellStatus::invalid)};  // detail: "invalid: <check>: <why>"

// The long scenario's window starts (scenarios.cpp): up to `samples` log-spaced positions in
// [16, total − 5], each more than 4 past the one before (a window is 1 un-timed + 4 timed
// tokens), the last window ending exactly at `total` when it fits.
std::vector<int> long_window_positions(int total, int samples);

// Runs one cell in this process: loads plugin and model, runs the scenario, and writes the
// logits its output checks capture (output_checks.hpp) to `outputs` (if not empty) for the
// parent to judge (cell_verdict.hpp): nothing decided in here is trusted. Returns the cell's
// result record. Throws InputError/PluginError on a load or call failure. In scenarios.cpp.
CellResult run_cell(const CellSpec& spec, const CellEnvironment& env, const std::filesystem::path& outputs);

}  // namespace rwkvb
