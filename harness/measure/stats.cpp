#include "measure/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rwkvb {
namespace {

// log P(Bin(n, ½) = i), exact through lgamma (terms for n in the millions underflow as plain
// doubles; their logarithms do not).
double log_binomial_half_pmf(size_t n, size_t i) {
    const double dn = static_cast<double>(n), di = static_cast<double>(i);
    return std::lgamma(dn + 1) - std::lgamma(di + 1) - std::lgamma(dn - di + 1) + dn * std::log(0.5);
}

// The distribution-free CI's rank l (1-based) and P(Bin(n, ½) ≤ l−1). The CDF is accumulated
// one exact term per rank, so the search is O(n) in all (it was O(n²) when the CDF was summed
// afresh for every candidate rank: seconds at n = 16k, hours at the millions a fast decode
// cell produces). No normal approximation: the exact method is cheap enough at any n.
std::pair<size_t, double> median_ci_rank(size_t n) {
    double cdf = std::exp(log_binomial_half_pmf(n, 0));  // P(B ≤ l−1) for l = 1
    size_t l = 1;
    while (l < n / 2 + 1) {
        const double next = cdf + std::exp(log_binomial_half_pmf(n, l));  // P(B ≤ l)
        if (next > 0.025) break;
        cdf = next;
        ++l;
    }
    return {l, std::min(cdf, 1.0)};
}

}  // namespace

double quantile_sorted(std::span<const double> sorted, double p) {
    if (sorted.empty()) throw std::invalid_argument("quantile of no samples");
    p = std::clamp(p, 0.0, 1.0);
    const double h = static_cast<double>(sorted.size() - 1) * p;
    const size_t lo = static_cast<size_t>(std::floor(h));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Summary summarize(std::span<const double> samples, double noisy_cv) {
    if (samples.empty()) throw std::invalid_argument("statistics of no samples");
    std::vector<double> s(samples.begin(), samples.end());
    std::sort(s.begin(), s.end());
    Summary r;
    r.n = s.size();
    r.min = s.front();
    r.max = s.back();
    r.median = quantile_sorted(s, 0.5);
    r.p90 = quantile_sorted(s, 0.90);
    r.p99 = quantile_sorted(s, 0.99);
    r.mean = std::accumulate(s.begin(), s.end(), 0.0) / static_cast<double>(r.n);
    if (r.n > 1) {
        double ss = 0;
        for (double x : s) ss += (x - r.mean) * (x - r.mean);
        r.stddev = std::sqrt(ss / static_cast<double>(r.n - 1));
    }
    r.cv = r.mean != 0 ? r.stddev / std::fabs(r.mean) : 0.0;
    r.noisy = r.cv > noisy_cv;

    // Largest rank l (1-based) with P(B ≤ l−1) ≤ 0.025; l = 1 means [min, max].
    const auto [l, below] = median_ci_rank(r.n);
    r.ci95_low = s[l - 1];
    r.ci95_high = s[r.n - l];  // rank n + 1 − l
    r.ci95_coverage = 1.0 - 2.0 * below;
    return r;
}

nlohmann::json to_json(const Summary& s) {
    return {{"n", s.n},       {"median", s.median}, {"p90", s.p90},       {"p99", s.p99},
            {"min", s.min},   {"max", s.max},       {"mean", s.mean},     {"stddev", s.stddev},
            {"cv", s.cv},     {"noisy", s.noisy},
            {"ci95", {{"low", s.ci95_low}, {"high", s.ci95_high}, {"coverage", s.ci95_coverage}}}};
}

Stats timing_stats(std::span<const double> samples, double noisy_cv) {
    const Summary sum = summarize(samples, noisy_cv);
    Stats st{int64_t(sum.n), sum.median, sum.p90,      sum.p99,       sum.min,           sum.max,
             sum.mean,       sum.stddev, sum.cv,       sum.ci95_low,  sum.ci95_high,     sum.ci95_coverage,
             sum.noisy,      {},         1};
    // Every sample counts in the statistics; the file keeps at most kMaxStoredSamples of them,
    // every stride-th in measurement order, so a no-op plugin's millions of steps stay small.
    const size_t stride = (samples.size() + kMaxStoredSamples - 1) / kMaxStoredSamples;  // ≥ 1
    st.samples.reserve(samples.size() / stride + 1);
    for (size_t i = 0; i < samples.size(); i += stride) st.samples.push_back(samples[i]);
    st.samples_stride = int64_t(stride);
    return st;
}

nlohmann::json stats_json(std::span<const double> samples, double noisy_cv) {
    nlohmann::json j = timing_stats(samples, noisy_cv);
    j["samples_stride"] = j.value("samples_stride", 1);
    return j;
}

}  // namespace rwkvb
