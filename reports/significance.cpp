// Mann-Whitney U test and Hodges-Lehmann ratio for `rwkvbench compare` (see significance.hpp).
#include "significance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rwkvb {
namespace {

// Exact integer counts: the null counts of U reach binom(n1+n2, n1), far past 2^64 (and past what
// a double holds exactly) for samples as small as 40 vs 40.
using Count = __int128;

// Above this binom(n1+n2, n1) the exact counts are not attempted (Count holds ~1.7e38; the
// recursion below adds two terms each at most the total, so keep a wide margin).
constexpr double kMaxExactTotal = 1e36;

// Pairs above which hodges_lehmann_ratio thins both samples (memory ~32 MB of doubles).
constexpr std::size_t kMaxPairs = 4'000'000;

bool exact_counts_fit(std::size_t n1, std::size_t n2) {
    const double log_binom = std::lgamma(double(n1 + n2) + 1) - std::lgamma(double(n1) + 1) -
                             std::lgamma(double(n2) + 1);
    return log_binom <= std::log(kMaxExactTotal);
}

// binom(m+n, m) exactly; only called when exact_counts_fit(m, n). Each partial product
// binom(n+i, i) * i stays below total * min(m, n), well inside Count.
Count binomial(std::size_t m, std::size_t n) {
    if (m > n) std::swap(m, n);
    Count c = 1;
    for (std::size_t i = 1; i <= m; ++i) c = c * Count(n + i) / Count(i);
    return c;
}

// counts[k], k = 0..kmax: how many of the binom(m+n, m) equally likely orderings give U = k under
// the null. Their generating function is the Gaussian binomial
//   [m+n choose m]_q = prod_{j=1..m} (1 - q^(n+j)) / (1 - q^j),
// built one factor at a time (every partial product is itself a Gaussian binomial, so integer).
// O(min(m, n) * kmax) instead of the O(m * n * mn) of the three-index recursion; the counts are
// symmetric in (m, n) so the smaller size drives the loop. Only the low coefficients are built:
// each coefficient depends only on lower ones.
std::vector<Count> null_counts(std::size_t m, std::size_t n, std::size_t kmax) {
    if (m > n) std::swap(m, n);
    std::vector<Count> p(kmax + 1, 0), next(kmax + 1, 0);
    p[0] = 1;
    for (std::size_t j = 1; j <= m; ++j) {
        for (std::size_t k = 0; k <= kmax; ++k) {
            Count v = p[k];                          // * (1 - q^(n+j))
            if (k >= n + j) v -= p[k - n - j];
            if (k >= j) v += next[k - j];            // / (1 - q^j): running sum with stride j
            next[k] = v;
        }
        std::swap(p, next);
    }
    return p;
}

double ratio(Count num, Count den) {
    return double(static_cast<long double>(num) / static_cast<long double>(den));
}

// Upper-tail normal quantile: x with Q(x) = 0.5 erfc(x / sqrt 2) = q, for 0 < q < 1. Newton from 0
// on the upper tail (convex and decreasing for x >= 0, so the iterates rise monotonically to the
// root); q > 0.5 by symmetry. Only used to pick an integer rank, so ~1e-15 is plenty.
double normal_isf(double q) {
    if (q > 0.5) return -normal_isf(1 - q);
    const double inv_sqrt2 = 1 / std::sqrt(2.0);
    const double inv_sqrt2pi = 1 / std::sqrt(2 * 3.14159265358979323846);
    double x = 0;
    for (int it = 0; it < 200; ++it) {
        const double f = 0.5 * std::erfc(x * inv_sqrt2) - q;
        const double slope = inv_sqrt2pi * std::exp(-0.5 * x * x);
        const double step = f / slope;
        x += step;
        if (std::abs(step) <= 1e-15 * std::max(1.0, std::abs(x))) break;
    }
    return x;
}

// numpy.median of v (mean of the two middle values when the size is even); v is reordered.
double median_of(std::vector<double>& v) {
    const std::size_t h = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(h), v.end());
    const double upper = v[h];
    if (v.size() % 2 == 1) return upper;
    const double lower = *std::max_element(v.begin(), v.begin() + std::ptrdiff_t(h));
    return (lower + upper) / 2;  // as numpy's mean of the two
}

void require_timing_sample(std::span<const double> s, const char* what) {
    if (s.empty()) throw std::invalid_argument(std::string(what) + " sample is empty");
    for (double x : s)
        if (!(x > 0) || !std::isfinite(x))
            throw std::invalid_argument(std::string(what) +
                                        " sample must hold positive finite values");
}

// Kept sorted indices for a stride s: a grid of step s centred in [0, n), never empty.
std::size_t thinned_size(std::size_t n, std::size_t s) { return (n - 1) / s + 1; }

std::vector<double> sorted_thinned_logs(std::span<const double> s, std::size_t stride) {
    std::vector<double> sorted(s.begin(), s.end());
    std::sort(sorted.begin(), sorted.end());
    const std::size_t count = thinned_size(sorted.size(), stride);
    const std::size_t offset = ((sorted.size() - 1) % stride) / 2;
    std::vector<double> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back(std::log(sorted[offset + i * stride]));
    return out;
}

}  // namespace

MannWhitney mann_whitney_u(std::span<const double> a, std::span<const double> b) {
    if (a.empty() || b.empty())
        throw std::invalid_argument("mann_whitney_u: both samples must be non-empty");
    const std::size_t n1 = a.size(), n2 = b.size(), n = n1 + n2;

    // Pooled values tagged with their sample; midranks (scipy.stats.rankdata 'average').
    std::vector<std::pair<double, bool>> pooled;  // (value, from a)
    pooled.reserve(n);
    for (double x : a) pooled.emplace_back(x, true);
    for (double x : b) pooled.emplace_back(x, false);
    for (const auto& [x, from_a] : pooled)
        if (std::isnan(x)) throw std::invalid_argument("mann_whitney_u: samples must not hold NaN");
    std::sort(pooled.begin(), pooled.end(),
              [](const auto& l, const auto& r) { return l.first < r.first; });

    double r1 = 0;         // rank sum of a
    double tie_term = 0;   // sum over tie groups of t^3 - t
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i;
        while (j < n && pooled[j].first == pooled[i].first) ++j;
        const double t = double(j - i);
        const double midrank = (double(i + 1) + double(j)) / 2;  // ranks i+1 .. j
        for (std::size_t k = i; k < j; ++k)
            if (pooled[k].second) r1 += midrank;
        tie_term += t * t * t - t;
        i = j;
    }

    MannWhitney res;
    const double u1 = r1 - double(n1) * double(n1 + 1) / 2;
    const double u2 = double(n1) * double(n2) - u1;
    res.u = u1;
    const double u = std::max(u1, u2);  // two-sided: twice the upper tail of the larger U

    const bool ties = tie_term > 0;
    if (std::min(n1, n2) <= 8 && !ties && exact_counts_fit(n1, n2)) {
        // scipy: sf(U) = cdf(n1 n2 - U) by symmetry, including the mass at U.
        const std::size_t kmax = n1 * n2 - std::size_t(u);
        const std::vector<Count> counts = null_counts(n1, n2, kmax);
        Count cum = 0;
        for (Count c : counts) cum += c;
        res.exact = true;
        res.p_two_sided = std::clamp(2 * ratio(cum, binomial(n1, n2)), 0.0, 1.0);
        return res;
    }

    // Normal approximation, as scipy's _get_mwu_z (same operation order).
    const double mu = double(n1) * double(n2) / 2;
    const double nd = double(n);
    const double s =
        std::sqrt(double(n1) * double(n2) / 12 * ((nd + 1) - tie_term / (nd * (nd - 1))));
    const double z = (u - mu - 0.5) / s;  // continuity correction; all tied: s = 0, z = -inf, p = 1
    res.exact = false;
    res.p_two_sided = std::clamp(std::erfc(z / std::sqrt(2.0)), 0.0, 1.0);  // 2 * norm.sf(z)
    return res;
}

RatioEstimate hodges_lehmann_ratio(std::span<const double> base, std::span<const double> cand,
                                   double confidence) {
    require_timing_sample(base, "hodges_lehmann_ratio: base");
    require_timing_sample(cand, "hodges_lehmann_ratio: cand");
    if (!(confidence > 0 && confidence < 1))
        throw std::invalid_argument("hodges_lehmann_ratio: confidence must be in (0, 1)");

    RatioEstimate res;
    std::size_t stride = 1;
    while (thinned_size(base.size(), stride) * thinned_size(cand.size(), stride) > kMaxPairs)
        ++stride;
    res.stride = stride;
    const std::vector<double> lb = sorted_thinned_logs(base, stride);
    const std::vector<double> lc = sorted_thinned_logs(cand, stride);
    const std::size_t n1 = lb.size(), n2 = lc.size(), pairs = n1 * n2;

    std::vector<double> d;
    d.reserve(pairs);
    for (double b : lb)
        for (double c : lc) d.push_back(c - b);
    std::sort(d.begin(), d.end());

    const double shift = pairs % 2 == 1
                             ? d[pairs / 2]
                             : (d[pairs / 2 - 1] + d[pairs / 2]) / 2;  // numpy.median

    // k: largest integer with P(U <= k-1) <= alpha/2 under the null.
    const double half_alpha = (1 - confidence) / 2;
    std::size_t k = 0;
    if (exact_counts_fit(n1, n2)) {
        res.exact = true;
        const std::vector<Count> counts = null_counts(n1, n2, pairs / 2);
        const long double limit =
            static_cast<long double>(half_alpha) * static_cast<long double>(binomial(n1, n2)) *
            (1 + 1e-12L);  // a cdf exactly at alpha/2 must not be lost to rounding
        Count cum = 0;
        for (std::size_t j = 0; j < counts.size(); ++j) {
            cum += counts[j];
            if (static_cast<long double>(cum) > limit) break;
            k = j + 1;
        }
    } else {
        res.exact = false;
        const double sd = std::sqrt(double(n1) * double(n2) * double(n1 + n2 + 1) / 12);
        const double kk = std::floor(double(pairs) / 2 + 0.5 - normal_isf(half_alpha) * sd);
        k = kk > 0 ? std::size_t(kk) : 0;
    }
    k = std::clamp<std::size_t>(k, 1, (pairs + 1) / 2);

    res.estimate = std::exp(shift);
    res.low = std::exp(d[k - 1]);
    res.high = std::exp(d[pairs - k]);
    return res;
}

double ratio_of_medians(std::span<const double> base, std::span<const double> cand) {
    require_timing_sample(base, "ratio_of_medians: base");
    require_timing_sample(cand, "ratio_of_medians: cand");
    std::vector<double> b(base.begin(), base.end()), c(cand.begin(), cand.end());
    return median_of(c) / median_of(b);
}

}  // namespace rwkvb
