// `rwkvbench merge` (DESIGN.md §7): several runs (hosts, commits, times) in one results document,
// each cell keeping its run of origin, and the fleet table over it: one row per configuration,
// one column per run. Pure: documents in, a document out; the CLI reads and writes the files.
//
// Origin ids, the rule: a run's id is its host name (run.hostname, else system.os.hostname, else
// "run"). Runs sharing a host are told apart by "#2", "#3", … in order of their timestamp_utc
// (then of the arguments), so the same set of runs gets the same ids whatever order they are
// given in. A merged document given as an input is flattened: its runs keep their ids, and a new
// run whose id is taken gets the next free "#n" (a kept id taken by an earlier input too).
#pragma once
#include "results.hpp"
#include "vocabulary.hpp"

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <vector>

namespace rwkvb {

struct MergeInput {
    std::string source;  // how the user named it (a file or run directory): in errors and runs[id].source
    RunDocument document;
};

// The merged document: every cell with `origin` set; runs[origin] = {run, system, source, limits};
// run = {"tool", "merged_from": [sources]} (the CLI adds its own version and time); system and
// limits empty (each run's own are in runs). Throws std::invalid_argument with one line when the
// same run is given twice (same run_dir, or same timestamp_utc + hostname + command_line), naming
// both sources, or when one run holds two cells of the same id, or a merged input is inconsistent.
RunDocument merge_runs(const std::vector<MergeInput>& inputs);

// The id a single run's cells would get alone: its host name, or "run".
std::string run_host_label(const nlohmann::json& run, const nlohmann::json& system);

// Rows keyed by (backend, device index, workload, scenario, dtype, threads and the scenario's
// parameters); one column per origin (a document that is not merged: one column, its host). A
// value is tokens/s, in brackets when uncertified, "(noisy)"/"(contended)" appended; a parity row
// shows PASS/FAIL; a cell that did not run shows its status. table and md add one line per run
// (host, CPU, time, commit, source); csv gives per origin a tokens/s column and a status column.
// std::invalid_argument for json (the merged document is the JSON).
void write_fleet_table(const RunDocument& document, ReportFormat format, std::ostream& out);

}  // namespace rwkvb
