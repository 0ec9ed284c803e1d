// Parity of a backend's logits with the golden float64 logits (DESIGN.md §6): per-step metrics,
// their aggregation over a token stream, per-dtype thresholds and the PASS/FAIL verdict.
#pragma once
#include "dtype.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace rwkvb {

// Top-1 agreement only counts steps where the golden's two largest logits differ by more than
// this fraction of the golden logits' standard deviation (near-ties may legitimately flip).
inline constexpr double kDefaultTop1MarginFactor = 1e-3;

struct StepParity {
    double rel_l2 = 0;    // ‖b − g‖₂ / ‖g‖₂
    double max_abs = 0;   // max |b − g|
    double kl = 0;        // KL(softmax g ‖ softmax b), nats
    int golden_top1 = 0, backend_top1 = 0;
    double golden_margin = 0;  // top-1 minus top-2 golden logit
    bool top1_counted = false;  // margin above the threshold
    bool finite = true;         // every backend logit finite (else the other metrics are void)
};

StepParity compare_step(std::span<const double> golden, std::span<const double> backend,
                        double margin_factor = kDefaultTop1MarginFactor);

// Absent limit = not checked. min_top1 is a fraction in [0, 1].
struct ParityThresholds {
    std::optional<double> max_rel_l2, min_top1, max_mean_kl;
    double top1_margin_factor = kDefaultTop1MarginFactor;
};

// DESIGN.md §6 defaults by the weight dtype: f64/f32 — max rel L2 ≤ 1e-4 and top-1 100%;
// f16/bf16 — max rel L2 ≤ 2e-2, top-1 ≥ 99%, mean KL ≤ 1e-3; int8 — top-1 ≥ 97%, mean KL ≤ 1e-2.
ParityThresholds default_thresholds(DType weight_dtype);
// Defaults overridden by {"max_rel_l2": x|null, "min_top1": x|null, "max_mean_kl": x|null,
// "top1_margin_factor": x}; null switches a check off. InputError on an unknown key or a bad value.
ParityThresholds thresholds_with_overrides(DType weight_dtype, const nlohmann::json& overrides);
nlohmann::json to_json(const ParityThresholds& t);

struct ParityReport {
    std::vector<StepParity> steps;
    ParityThresholds thresholds;
    bool pass = false;
    std::vector<std::string> failures;  // one line per broken threshold
    nlohmann::json json;                // the record's "parity" object
};

// golden and backend: steps × vocab, row-major. Aggregates (max, mean, step of max), drift
// (least-squares slope of rel L2 against the step, and mean rel L2 of the last 10% of steps over
// the first 10%), top-1 agreement over counted steps, and the verdict.
ParityReport evaluate_parity(std::span<const double> golden, std::span<const double> backend, int steps,
                             int vocab, const ParityThresholds& thresholds);

}  // namespace rwkvb
