// `rwkvbench compare BASE CAND` (DESIGN.md §7): cells of two results documents matched by what
// they measured, each judged faster, slower, same or noisy from the raw repetition samples — the
// ratio of speeds with a 95% confidence interval (Hodges–Lehmann) and a two-sided Mann–Whitney U
// p-value (significance.hpp) — and a verdict for CI: regressed or not.
#pragma once
#include "results.hpp"
#include "vocabulary.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace rwkvb {

enum class CompareVerdict { faster, slower, same, noisy, missing, added, parity_changed, failed };
template <>
struct Vocabulary<CompareVerdict> {
    static constexpr std::string_view what = "comparison verdict";
    static constexpr std::array<std::pair<CompareVerdict, std::string_view>, 8> names{
        {{CompareVerdict::faster, "faster"},
         {CompareVerdict::slower, "slower"},
         {CompareVerdict::same, "same"},
         {CompareVerdict::noisy, "noisy"},
         {CompareVerdict::missing, "missing"},
         {CompareVerdict::added, "new"},
         {CompareVerdict::parity_changed, "parity changed"},
         {CompareVerdict::failed, "failed"}}};
};

struct CompareOptions {
    double threshold = 0.05;  // a change smaller than this fraction of the speed is "same"
    double alpha = 0.01;      // and one whose p-value is not below this is "same" too
    double max_cv = 0.10;     // repetitions varying more than this on either side: "noisy", no verdict
    bool gate = false;        // gate on regressions even when BASE and CAND are different hosts
};

// One matched (or unmatched) cell.
struct CellComparison {
    std::string key;  // "onednn/AMD EPYC/rwkv7-0.1b/decode/f32/t2/p128/n64"
    std::optional<CellResult> base, cand;
    CompareVerdict verdict = CompareVerdict::same;
    std::string why;  // one line: what decided the verdict
    // Speed of cand relative to base (> 1: faster), with its 95% CI, from repetition times.
    std::optional<double> speed_ratio, speed_ratio_low, speed_ratio_high, p_value;
    bool regression = false;  // slower, beyond the threshold, significant
};

struct Comparison {
    std::string base_label, cand_label;  // host and time of each run
    bool same_host = true;                // else: an instance comparison
    CompareOptions options;
    std::vector<CellComparison> cells;
    int regressions = 0, parity_regressions = 0, comparable = 0;
    int exit_code = kExitOk;  // 0, 2 (nothing comparable), 3 (PASS→FAIL), 5 (regression)
};

// The key a cell is matched by: backend, device name, workload, scenario, dtype, threads and the
// parameters its scenario uses. Cell ids are not used: a sweep labels ids differently.
std::string comparison_key(const CellResult& cell);

Comparison compare_runs(const RunDocument& base, const RunDocument& cand, const CompareOptions& options);

void to_json(nlohmann::json& j, const Comparison& c);
void write_comparison(const Comparison& c, ReportFormat format, std::ostream& out);  // table, md or json

}  // namespace rwkvb
