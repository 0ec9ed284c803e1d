// Statistics behind `rwkvbench compare BASE CAND`: is the candidate's timing different from the
// base's (Mann-Whitney U), and by how much (Hodges-Lehmann ratio with a distribution-free CI).
// Pure functions over samples; rank-based because timing samples are skewed and have outliers,
// where t-tests and means mislead.
#pragma once
#include <cstddef>
#include <span>

namespace rwkvb {

struct MannWhitney {
    double u = 0;            // U of the first sample, scipy's U1 = R1 - n1(n1+1)/2 (midranks for ties)
    double p_two_sided = 1;  // two-sided p-value
    bool exact = false;      // true: exact null distribution; false: normal approximation
};

// Two-sided Mann-Whitney U test, matching scipy 1.10's
// scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method='auto'), use_continuity=True:
//  - exact null distribution of U when min(n1, n2) <= 8 and no value is tied across the pooled
//    samples (scipy 1.10's rule is "asymptotic iff n1 > 8 and n2 > 8, or ties");
//  - otherwise the normal approximation with tie-corrected variance and continuity correction.
// The p-value is clipped to [0, 1] as scipy does. Exception to scipy: should the exact counts not
// fit in 128-bit integers (the smaller sample <= 8 and the larger one > ~100,000) the normal
// approximation is used and `exact` says so.
// Throws std::invalid_argument when either sample is empty or holds a NaN (scipy raises too).
MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b);

struct RatioEstimate {
    double estimate = 1;  // cand / base as exp(Hodges-Lehmann shift of the logs)
    double low = 0;       // confidence interval on the same ratio
    double high = 0;
    bool exact = false;       // CI critical value from the exact U distribution (else normal approx.)
    std::size_t stride = 1;   // > 1 when both samples were thinned (see hodges_lehmann_ratio)
};

// Location ratio cand/base for positive timing samples, with a `confidence` (0..1) interval.
// On the logs (a ratio is a shift there): the Hodges-Lehmann shift is the median (numpy
// convention: mean of the two middle values when the count is even) of all n1*n2 differences
// log(c_j) - log(b_i); the CI (Lehmann / Bauer 1972) is [d_(k), d_(N+1-k)], the k-th smallest and
// k-th largest of those N differences, with k the largest integer such that P(U <= k-1) <= alpha/2
// under the null (alpha = 1 - confidence; compared with 1e-12 relative slack so that a cdf exactly
// at alpha/2, e.g. 6/120 at confidence 0.90, is not lost to rounding); all three are then exp()ed.
//  - k is exact (null counts of U, as for the exact test) while binom(n1+n2, n1) <= 1e36,
//    e.g. 60 vs 60 or 8 vs 10,000; beyond that k = floor(N/2 + 1/2 - z * sqrt(n1 n2 (n1+n2+1)/12))
//    with z the normal (1+confidence)/2 quantile (Hollander & Wolfe, "nearest integer").
//    The counts ignore ties; with ties the closed interval only gets more conservative.
//  - When the samples are too small for the confidence (k < 1) k is clamped to 1, i.e. the CI is
//    the full range of the differences (as R's wilcox.test does); its real coverage is lower.
//  - Cost is O(N log N); when N > 4,000,000 both samples are sorted and thinned with the same
//    fixed stride s (keeping sorted indices o, o + s, ..., with o = ((n-1) % s) / 2 so the grid
//    is centred and never empty), the smallest s that brings N under the limit, so the result is
//    deterministic and independent of input order; `stride` reports s. The CI then reflects
//    the thinned sizes, i.e. it is somewhat wider than the full data would give.
// Throws std::invalid_argument for an empty sample, a non-positive or non-finite value, or a
// confidence outside (0, 1).
RatioEstimate hodges_lehmann_ratio(std::span<const double> base, std::span<const double> cand,
                                   double confidence = 0.95);

// median(cand) / median(base) (numpy median convention); the plain point estimate to show next to
// the Hodges-Lehmann one. Throws std::invalid_argument like hodges_lehmann_ratio.
double ratio_of_medians(std::span<const double> base, std::span<const double> cand);

}  // namespace rwkvb
