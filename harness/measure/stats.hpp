// Summary statistics of timing samples (DESIGN.md §5). Percentiles use linear interpolation
// between closest ranks (Hyndman–Fan type 7, numpy's default): with the samples sorted
// x[0..n-1], the p-quantile is x[h] interpolated at h = (n−1)·p. The 95% confidence interval of
// the median is distribution-free: the order statistics x_(l) and x_(n+1−l) with l the largest
// rank whose binomial tail P(Bin(n, ½) ≤ l−1) stays ≤ 2.5%; its exact coverage is reported
// (below 95% when n < 6, where [min, max] is the widest interval there is). The binomial CDF is
// exact (log-space terms) and accumulated once over the ranks: O(n) beyond the sort.
#pragma once
#include "cell_result.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <span>

namespace rwkvb {

inline constexpr double kDefaultNoisyCv = 0.10;
// Raw samples kept in a results file per statistic; beyond it a deterministic stride sample.
inline constexpr size_t kMaxStoredSamples = 100000;

struct Summary {
    size_t n = 0;
    double median = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0;
    double stddev = 0;  // sample standard deviation (n−1); 0 when n == 1
    double cv = 0;      // stddev / mean; 0 when the mean is 0
    double ci95_low = 0, ci95_high = 0, ci95_coverage = 0;
    bool noisy = false;  // cv > the threshold given to summarize()
};

// Quantile p ∈ [0, 1] of already sorted samples (type 7). Throws std::invalid_argument if empty.
double quantile_sorted(std::span<const double> sorted, double p);
// Summary of samples in any order. Throws std::invalid_argument if `samples` is empty.
Summary summarize(std::span<const double> samples, double noisy_cv = kDefaultNoisyCv);

// {"n", "median", ..., "ci95": {"low", "high", "coverage"}, "noisy"}; samples are added by the
// caller (they are often large and sometimes in other units).
nlohmann::json to_json(const Summary& s);
// to_json plus "samples": the raw values in measurement order — all of them up to
// kMaxStoredSamples, else every k-th with k = ceil(n / kMaxStoredSamples) — and "samples_stride"
// (that k; 1 when all are kept). The statistics always use every sample.
nlohmann::json stats_json(std::span<const double> samples, double noisy_cv = kDefaultNoisyCv);
// The same, typed, as a cell record holds it.
Stats timing_stats(std::span<const double> samples, double noisy_cv = kDefaultNoisyCv);

}  // namespace rwkvb
