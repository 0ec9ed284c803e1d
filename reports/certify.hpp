// `rwkvbench certify` (DESIGN.md §7, MLPerf LoadGen's VALID/INVALID): a finished run judged by
// written rules, each a named check over the results document and the run's plan that names
// every offending cell. The certificate carries the verdict, each rule's outcome, the system and
// run metadata, and a SHA-256 of the canonical results, so anyone can re-check that the results
// were not edited after certification. Pure: the CLI reads the files and hashes.
//
// Which cells a rule looks at: all_cells_ran every planned cell (and every record); parity_pass
// every timed cell's (backend, device, workload, dtype) group; the per-cell measurement rules
// (outputs_verified, min_measured_time, cv_bound, quiet_host) every timed cell that ran (ok or
// invalid) — a cell that did not run fails all_cells_ran instead, once.
#pragma once
#include "results.hpp"
#include "vocabulary.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rwkvb {

// A cell of the run's plan (plan.json "cells"): its id and, when planned as skipped, why.
struct PlannedCellRef {
    std::string id;
    std::string skip_reason;
};

struct CertifyOptions {
    double min_cell_time_s = 1.0;     // least time measured per timed cell (its repetitions, summed)
    double max_cv = 0.05;             // largest CV of a timed cell's repetitions
    // Largest 1-minute load average before and after a cell; default: the host's logical CPUs (a
    // load above that means runnable threads waited for a CPU; the cell's own contention record is
    // the precise check of other processes).
    std::optional<double> max_load;
    int limits_max_age_days = 7;      // limits measured at most this long before (or after) the run
};

// One offence: the cell (empty: the run as a whole) and what is wrong, in words.
struct RuleFailure {
    std::string cell, detail;
};

struct CertifyInput {
    const RunDocument& document;
    const std::vector<PlannedCellRef>& plan;
    const CertifyOptions& options;
};

struct CertifyRule {
    std::string_view id, description;
    std::function<std::vector<RuleFailure>(const CertifyInput&)> check;  // empty: PASS
};

// The rules, in the order they are judged and printed.
const std::vector<CertifyRule>& certify_rules();

struct RuleOutcome {
    std::string id, description;
    Verdict verdict = Verdict::fail;
    std::vector<RuleFailure> failures;
};

struct CertifyReport {
    bool valid = false;
    std::vector<RuleOutcome> rules;
    std::vector<std::string> failed_rules() const;  // ids, in rule order
};

// Judges every rule. A merged document is refused (std::invalid_argument): certify each run.
CertifyReport certify_run(const RunDocument& document, const std::vector<PlannedCellRef>& plan,
                          const CertifyOptions& options);

// What is hashed: the document as parsed from the file, dumped with sorted keys (nlohmann's
// std::map) and no whitespace, so formatting does not count but every value does.
std::string canonical_results_text(const nlohmann::json& results);

inline constexpr std::string_view kCertificateSchema = "rwkvbench-certificate";
inline constexpr int kCertificateSchemaVersion = 1;

// {"schema", "schema_version", "verdict": "VALID"|"INVALID", "rules": [{id, description, verdict,
// failures: [{cell, detail}]}], "bounds", "system", "run", "results_sha256", "results_file"}.
nlohmann::json make_certificate(const CertifyReport& report, const RunDocument& document, const CertifyOptions& options,
                                const std::string& results_sha256, const std::string& results_file);

// Re-checking a certificate against the SHA-256 of the canonical results given with it.
struct CertificateCheck {
    bool hash_matches = false;
    bool certified_valid = false;           // the certificate's own verdict
    std::vector<std::string> failed_rules;  // the certificate's FAILed rules
    bool valid() const { return hash_matches && certified_valid; }
};
// std::invalid_argument with one line when `certificate` is not an rwkvbench certificate.
CertificateCheck check_certificate(const nlohmann::json& certificate, const std::string& results_sha256);

// The rules `certificate` says PASS that FAIL when judged again on `results` with the bounds it
// records: a certificate edited by hand. all_cells_ran is judged on the records alone (the plan
// is not at hand), so a cell missing from both goes unseen here; the hash guards the records.
std::vector<std::string> rules_contradicting(const nlohmann::json& certificate, const RunDocument& results);

}  // namespace rwkvb
