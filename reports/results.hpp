// The results document (DESIGN.md §7; schema: results.schema.json): run metadata, system info,
// machine limits, one record per cell, and a summary that ties each speed cell to the parity
// verdict of its (backend, device, workload, dtype) group — a speed is certified only when that
// group's parity cell ran and PASSed.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace rwkvb {

extern const int kResultsSchemaVersion;

// Assembles the document: adds "schema", "schema_version", a "certification" object to every
// cell and the "summary" block (counts by status, parity groups, uncertified and noisy cells,
// the exit code).
nlohmann::json make_run_document(nlohmann::json run_metadata, nlohmann::json system, nlohmann::json limits,
                                 nlohmann::json cells);

// DESIGN.md §8: 3 if any parity cell FAILed or any timed cell is invalid (its own output failed
// the golden); else 4 if any cell crashed, timed out, ran out of
// memory, failed to load or errored, or if no cell ran at all (every one skipped, or none);
// else 0. Skipped cells beside cells that ran never fail a run.
int run_exit_code(const nlohmann::json& run_document);
// True when no cell of the document ran: every cell was skipped, or there are none.
bool nothing_ran(const nlohmann::json& run_document);

// Helpers shared by the writers, tolerant of partial records (a crashed cell has little).
// j[key] when j is an object holding a string there, else `fallback`: a record read back from
// disk may hold anything under any key, and nlohmann's value() throws on a wrong type.
std::string text_field(const nlohmann::json& j, const char* key, const std::string& fallback);
// j[key] when j is an object holding a boolean there, else false.
bool flag_field(const nlohmann::json& j, const char* key);
// The cell's verdict when it is a parity cell that ran ("PASS"/"FAIL"), else "".
std::string own_parity_verdict(const nlohmann::json& cell);
// A timed cell's own output check ("PASS"/"FAIL"), or "" when it has none.
std::string verification_verdict(const nlohmann::json& cell);
// The cell's primary latency statistics (prefill: forward; batch: step; others: token), or null.
const nlohmann::json* primary_timing(const nlohmann::json& cell);

}  // namespace rwkvb
