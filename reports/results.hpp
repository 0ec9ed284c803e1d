// The results document (DESIGN.md §7; schema: results.schema.json): run metadata, system info,
// machine limits, one typed record per cell (cell_result.hpp), and a summary that ties each
// speed cell to the parity verdict of its (backend, device, workload, dtype) group — a speed is
// certified only when that group's parity cell ran and PASSed and the cell's own output matched.
#pragma once
#include "cell_result.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace rwkvb {

// 2: typed records (dtype spellings of the command line, roofline "bound", "noise" of whole
// repetitions with per-token jitter apart, "contention", "origin"). Version 1 documents are read.
extern const int kResultsSchemaVersion;

struct ParityGroup {
    std::string backend, workload, dtype;
    int64_t device = 0;
    GroupVerdict verdict = GroupVerdict::none;
    std::string cell;  // the parity cell's id
};

struct RunSummary {
    size_t cells = 0;
    std::map<std::string, int64_t> by_status;
    int64_t parity_pass = 0, parity_fail = 0;
    std::vector<ParityGroup> parity_groups;
    std::vector<std::string> uncertified_cells, noisy_cells, invalid_cells, contended_cells;
    int exit_code = kExitOk;
};

struct RunDocument {
    int schema_version = 0;  // of the document as read (documents made here: kResultsSchemaVersion)
    nlohmann::json run = nlohmann::json::object();     // tool, version, git hash, command line, time
    nlohmann::json system = nlohmann::json::object();  // host description (sysinfo.hpp)
    nlohmann::json limits = nlohmann::json::object();  // machine limits the fractions use
    std::vector<CellResult> cells;
    RunSummary summary;
    // Merged documents (`rwkvbench merge`): each run's metadata, system and limits, by origin id.
    nlohmann::json runs = nlohmann::json();
};

// Assembles the document: certification of every cell and the summary (with the exit code).
RunDocument make_run_document(nlohmann::json run_metadata, nlohmann::json system, nlohmann::json limits,
                              std::vector<CellResult> cells);

void to_json(nlohmann::json& j, const RunDocument& d);
// Reads a results document of schema version 1 or 2 (or a merged one). Throws
// std::invalid_argument with one line when it is not an rwkvbench results document or its
// version is unknown; the cells are read tolerantly (cell_result_from_json) and the summary is
// computed again from them.
RunDocument run_document_from_json(const nlohmann::json& j);

// DESIGN.md §8: 3 if any parity cell FAILed or any timed cell is invalid (its own output failed
// the golden); else 4 if any cell crashed, timed out, ran out of memory, failed to load or
// errored, or if no cell ran at all (every one skipped, or none); else 0. Skipped cells beside
// cells that ran never fail a run.
int run_exit_code(const std::vector<CellResult>& cells);
// True when no cell ran: every cell was skipped, or there are none.
bool nothing_ran(const std::vector<CellResult>& cells);

}  // namespace rwkvb
