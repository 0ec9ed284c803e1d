#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace rwkvb {
namespace {

// P(Bin(n, ½) ≤ k), summed in log space so n in the thousands does not underflow the terms.
double binomial_half_cdf(size_t n, size_t k) {
    double sum = 0;
    const double log_half_n = static_cast<double>(n) * std::log(0.5);
    for (size_t i = 0; i <= k && i <= n; ++i) {
        const double log_choose = std::lgamma(double(n) + 1) - std::lgamma(double(i) + 1) -
                                  std::lgamma(double(n - i) + 1);
        sum += std::exp(log_choose + log_half_n);
    }
    return std::min(sum, 1.0);
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
    size_t l = 1;
    while (l < r.n / 2 + 1 && binomial_half_cdf(r.n, l) <= 0.025) ++l;
    const size_t u = r.n + 1 - l;
    r.ci95_low = s[l - 1];
    r.ci95_high = s[u - 1];
    r.ci95_coverage = 1.0 - 2.0 * binomial_half_cdf(r.n, l - 1);
    return r;
}

nlohmann::json to_json(const Summary& s) {
    return {{"n", s.n},       {"median", s.median}, {"p90", s.p90},       {"p99", s.p99},
            {"min", s.min},   {"max", s.max},       {"mean", s.mean},     {"stddev", s.stddev},
            {"cv", s.cv},     {"noisy", s.noisy},
            {"ci95", {{"low", s.ci95_low}, {"high", s.ci95_high}, {"coverage", s.ci95_coverage}}}};
}

nlohmann::json stats_json(std::span<const double> samples, double noisy_cv) {
    nlohmann::json j = to_json(summarize(samples, noisy_cv));
    j["samples"] = std::vector<double>(samples.begin(), samples.end());
    return j;
}

}  // namespace rwkvb
