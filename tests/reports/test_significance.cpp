// mann_whitney_u, hodges_lehmann_ratio and ratio_of_medians against values computed in Python.
//
// Mann-Whitney expectations come from scipy 1.10.1 (Debian python3-scipy 1.10.1-2):
//   r = scipy.stats.mannwhitneyu(a, b, alternative='two-sided', method='auto')
//   print(repr(r.statistic), repr(r.pvalue))
// with a and b exactly as written in each test.
//
// Hodges-Lehmann expectations were computed independently in Python (numpy 1.24.2, scipy 1.10.1):
//   b, c = np.sort(base), np.sort(cand)                        # thinned case: b[((n-1)%s)//2::s]
//   d = np.sort((np.log(c)[None, :] - np.log(b)[:, None]).ravel()); N = len(d)
//   est = np.exp(np.median(d))
//   exact k:  cdf = scipy.stats._mannwhitneyu._mwu_state.cdf(np.arange(N//2 + 1), n1, n2)
//             k = int(np.sum(cdf <= (1 - conf) / 2 * (1 + 1e-12)))  # see CdfExactlyAtHalfAlphaCounts
//   normal k: k = floor(N/2 + 0.5 - norm.isf((1 - conf)/2) * sqrt(n1*n2*(n1+n2+1)/12))
//   k = max(1, min(k, (N + 1)//2)); low, high = np.exp(d[k-1]), np.exp(d[N-k])
#include "significance.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace rwkvb {
namespace {

using V = std::vector<double>;

// Relative closeness; the p-values and ratios are checked to 1e-12 (the task's bar is 1e-9).
void expect_rel(double expected, double actual, double rel = 1e-12) {
    EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << "expected " << expected;
}

void expect_mwu(const V& a, const V& b, double u, double p, bool exact) {
    const MannWhitney r = mann_whitney_u(a, b);
    EXPECT_DOUBLE_EQ(r.u, u);
    expect_rel(p, r.p_two_sided);
    EXPECT_EQ(r.exact, exact);
}

// --- Mann-Whitney U ---------------------------------------------------------------------------

TEST(MannWhitney, ExactSmallNoTies) {
    // mannwhitneyu([1.1, 2.3, 0.7, 4.5, 3.2], [5.1, 6.0, 2.9, 7.4, 5.5, 8.1]) -> 2.0, 0.017316017316017316
    expect_mwu({1.1, 2.3, 0.7, 4.5, 3.2}, {5.1, 6.0, 2.9, 7.4, 5.5, 8.1}, 2.0, 0.017316017316017316, true);
}

TEST(MannWhitney, SwappingSamplesMirrorsU) {
    const V a{1.1, 2.3, 0.7, 4.5, 3.2}, b{5.1, 6.0, 2.9, 7.4, 5.5, 8.1};
    const MannWhitney ab = mann_whitney_u(a, b), ba = mann_whitney_u(b, a);
    EXPECT_DOUBLE_EQ(ab.u + ba.u, 30.0);
    EXPECT_DOUBLE_EQ(ab.p_two_sided, ba.p_two_sided);
}

TEST(MannWhitney, ExactWhenOnlyOneSampleIsSmall) {
    // scipy 1.10's 'auto' is exact unless BOTH n > 8 (or ties): here n1 = 8, n2 = 15.
    // mannwhitneyu([3.1, 4.7, 2.2, 5.9, 6.4, 1.8, 7.3, 4.1],
    //              [5.0, 6.8, 7.7, 8.2, 3.9, 9.4, 6.1, 10.5, 8.8, 7.1, 9.9, 5.6, 11.2, 4.4, 8.5])
    //   -> 19.0, 0.006734459958312428
    expect_mwu({3.1, 4.7, 2.2, 5.9, 6.4, 1.8, 7.3, 4.1},
               {5.0, 6.8, 7.7, 8.2, 3.9, 9.4, 6.1, 10.5, 8.8, 7.1, 9.9, 5.6, 11.2, 4.4, 8.5}, 19.0,
               0.006734459958312428, true);
}

TEST(MannWhitney, ExactCompletelySeparatedAndSingletons) {
    // mannwhitneyu([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) -> 0.0, 0.1
    expect_mwu({1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}, 0.0, 0.1, true);
    // mannwhitneyu([1.0], [2.0]) -> 0.0, 1.0 (2 * 1/2 = 1, clipped)
    expect_mwu({1.0}, {2.0}, 0.0, 1.0, true);
}

TEST(MannWhitney, TiesUseTheNormalApproximation) {
    // mannwhitneyu([1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 3.0, 3.0, 5.0, 6.0, 7.0]) -> 6.0, 0.11390314458853068
    expect_mwu({1.0, 2.0, 2.0, 3.0, 4.0}, {2.0, 3.0, 3.0, 5.0, 6.0, 7.0}, 6.0, 0.11390314458853068, false);
    // A tie inside one sample only also switches scipy to the normal approximation:
    // mannwhitneyu([1.0, 1.0, 2.0], [3.0, 4.0, 5.0]) -> 0.0, 0.07652250047505922
    expect_mwu({1.0, 1.0, 2.0}, {3.0, 4.0, 5.0}, 0.0, 0.07652250047505922, false);
}

TEST(MannWhitney, LargeSamplesWithTiesAsymptotic) {
    // rng = np.random.default_rng(20240611)
    // a = np.round(rng.lognormal(np.log(10.0), 0.05, 25), 2)
    // b = np.round(rng.lognormal(np.log(10.3), 0.05, 30), 2)
    // mannwhitneyu(a, b) -> 209.0, 0.005142563513889499
    const V a{9.89, 9.74, 10.08, 9.14, 10.14, 9.84, 9.64, 10.05, 9.07, 9.92, 9.64, 10.21, 10.22,
              9.55, 9.54, 9.29, 9.61, 10.16, 10.44, 10.12, 10.02, 9.58, 10.1, 9.6, 10.12};
    const V b{10.2,  10.75, 10.4,  11.03, 10.09, 10.7,  10.42, 11.21, 9.34, 10.76,
              9.79,  9.86,  10.29, 9.55,  9.7,   10.04, 10.14, 9.36,  9.86, 10.23,
              10.23, 9.96,  10.3,  10.04, 10.92, 9.89,  10.33, 10.05, 10.75, 9.81};
    expect_mwu(a, b, 209.0, 0.005142563513889499, false);
}

TEST(MannWhitney, CompletelySeparatedAsymptotic) {
    // mannwhitneyu(np.arange(1.0, 31.0), np.arange(31.0, 61.0)) -> 0.0, 3.019859359162157e-11
    V a, b;
    for (int i = 1; i <= 30; ++i) a.push_back(i);
    for (int i = 31; i <= 60; ++i) b.push_back(i);
    expect_mwu(a, b, 0.0, 3.019859359162157e-11, false);
    // mannwhitneyu(np.arange(1.0, 10.0), np.arange(10.0, 19.0)) -> 0.0, 0.00041229480206169127
    // (both n = 9 > 8: asymptotic even without ties)
    V c, e;
    for (int i = 1; i <= 9; ++i) c.push_back(i);
    for (int i = 10; i <= 18; ++i) e.push_back(i);
    expect_mwu(c, e, 0.0, 0.00041229480206169127, false);
}

TEST(MannWhitney, IdenticalSamplesGivePOne) {
    // mannwhitneyu([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0]) -> 12.5, 1.0
    expect_mwu({1.0, 2.0, 3.0, 4.0, 5.0}, {1.0, 2.0, 3.0, 4.0, 5.0}, 12.5, 1.0, false);
    // mannwhitneyu([3.0, 3.0, 3.0], [3.0, 3.0, 3.0]) -> 4.5, 1.0 (zero variance: z = -inf)
    expect_mwu({3.0, 3.0, 3.0}, {3.0, 3.0, 3.0}, 4.5, 1.0, false);
}

TEST(MannWhitney, RejectsEmptyAndNaN) {
    const V some{1.0, 2.0};
    EXPECT_THROW(mann_whitney_u(V{}, some), std::invalid_argument);
    EXPECT_THROW(mann_whitney_u(some, V{}), std::invalid_argument);
    EXPECT_THROW(mann_whitney_u(some, V{1.0, std::nan("")}), std::invalid_argument);
}

// --- Hodges-Lehmann ratio ---------------------------------------------------------------------

void expect_hl(const RatioEstimate& r, double est, double low, double high, bool exact) {
    expect_rel(est, r.estimate);
    expect_rel(low, r.low);
    expect_rel(high, r.high);
    EXPECT_EQ(r.exact, exact);
}

const V kSmallBase{10.2, 9.8, 10.5, 10.1, 9.9, 10.4};
const V kSmallCand{11.0, 10.9, 11.4, 10.6, 11.2, 10.8, 11.6};

TEST(HodgesLehmann, SmallExactNoTies) {
    // n1 = 6, n2 = 7, exact k = 7 (the tabulated two-sided 5% critical U of 6, plus one):
    // est = 1.0900086292691393, [1.047619047619048, 1.1372549019607845]
    expect_hl(hodges_lehmann_ratio(kSmallBase, kSmallCand), 1.0900086292691393, 1.047619047619048,
              1.1372549019607845, true);
    // confidence 0.90: k = 9 -> [1.0495049504950495, 1.1287128712871286]
    expect_hl(hodges_lehmann_ratio(kSmallBase, kSmallCand, 0.90), 1.0900086292691393,
              1.0495049504950495, 1.1287128712871286, true);
}

TEST(HodgesLehmann, WithTies) {
    // n1 = 8, n2 = 9, k = 16: est = 1.02, [1.0, 1.058823529411765]
    const V base{5.0, 5.0, 5.1, 5.2, 5.2, 5.3, 5.0, 5.1};
    const V cand{5.1, 5.2, 5.2, 5.4, 5.3, 5.5, 5.2, 5.1, 5.3};
    expect_hl(hodges_lehmann_ratio(base, cand), 1.02, 1.0, 1.058823529411765, true);
}

TEST(HodgesLehmann, CdfExactlyAtHalfAlphaCounts) {
    // n1 = 2, n2 = 14, confidence 0.90: P(U <= 3) = 6/120 = 0.05 = alpha/2 exactly, so k = 4
    // (a strict float compare against (1 - 0.9)/2 = 0.04999999999999999 would give k = 3 and
    // [0.9090909090909092, 1.2249999999999999]).
    // base = [10.0, 11.0]; cand = [9.5 + 0.25*j for j in range(14)]
    // est = 1.0590518915949816, [0.9318181818181817, 1.1999999999999997]
    V cand;
    for (int j = 0; j < 14; ++j) cand.push_back(9.5 + 0.25 * j);
    expect_hl(hodges_lehmann_ratio(V{10.0, 11.0}, cand, 0.90), 1.0590518915949816,
              0.9318181818181817, 1.1999999999999997, true);
}

TEST(HodgesLehmann, TooSmallForTheConfidenceGivesTheFullRange) {
    // 2 vs 2: P(U <= 0) = 1/6 > 0.025, k clamped to 1: est = 2.449489742783178, [1.5, 4.0]
    expect_hl(hodges_lehmann_ratio(V{1.0, 2.0}, V{3.0, 4.0}), 2.449489742783178,
              1.5000000000000002, 4.0, true);
}

TEST(HodgesLehmann, NormalApproximationForLargerSamples) {
    // binom(150, 70) = 6.7e43 > 1e36 -> normal k = 2280:
    // bf = [10 + ((i*7919) % 113) * 0.01 for i in range(70)]
    // cf = [10.5 + ((j*104729) % 127) * 0.009 for j in range(80)]
    // est = 1.0499999999999996, [1.039328063241107, 1.0610644257703084]
    V base, cand;
    for (int i = 0; i < 70; ++i) base.push_back(10 + double((i * 7919) % 113) * 0.01);
    for (int j = 0; j < 80; ++j) cand.push_back(10.5 + double((j * 104729) % 127) * 0.009);
    const RatioEstimate r = hodges_lehmann_ratio(base, cand);
    expect_hl(r, 1.0499999999999996, 1.039328063241107, 1.0610644257703084, false);
    EXPECT_EQ(r.stride, 1u);
}

TEST(HodgesLehmann, ThinsPastFourMillionPairs) {
    // 2100 * 2000 = 4.2e6 pairs > 4e6 -> stride 2 (1050 x 1000), normal k = 498744:
    // bs = [1 + ((i*7919) % 1009) * 0.001 for i in range(2100)]
    // cs = [1.05 + ((j*104729) % 1013) * 0.001 for j in range(2000)]
    // est = 1.0342747997204982, [1.0170854271356784, 1.051931602279924]
    V base, cand;
    for (long i = 0; i < 2100; ++i) base.push_back(1 + double((i * 7919) % 1009) * 0.001);
    for (long j = 0; j < 2000; ++j) cand.push_back(1.05 + double((j * 104729) % 1013) * 0.001);
    const RatioEstimate r = hodges_lehmann_ratio(base, cand);
    expect_hl(r, 1.0342747997204982, 1.0170854271356784, 1.051931602279924, false);
    EXPECT_EQ(r.stride, 2u);
}

// 30 timing-like samples around 20 ms with a deterministic +-4% spread.
V spread_samples(double centre, int salt) {
    V v;
    for (int i = 0; i < 30; ++i) v.push_back(centre * (1 + 0.04 * std::sin(1.7 * i + salt)));
    return v;
}

TEST(HodgesLehmann, ClearTenPercentShiftExcludesOne) {
    const V base = spread_samples(20.0, 0);
    const V cand = spread_samples(22.0, 3);  // 10% slower, differently ordered noise
    const RatioEstimate r = hodges_lehmann_ratio(base, cand);
    EXPECT_TRUE(r.exact);  // binom(60, 30) ~ 1.2e17
    EXPECT_NEAR(r.estimate, 1.10, 0.01);
    EXPECT_GT(r.low, 1.0);
    EXPECT_LT(r.low, r.estimate);
    EXPECT_GT(r.high, r.estimate);
    EXPECT_LT(mann_whitney_u(base, cand).p_two_sided, 1e-6);
}

TEST(HodgesLehmann, SameVersusSameContainsOne) {
    const V base = spread_samples(20.0, 0);
    const RatioEstimate same = hodges_lehmann_ratio(base, base);
    EXPECT_DOUBLE_EQ(same.estimate, 1.0);
    EXPECT_LT(same.low, 1.0);
    EXPECT_GT(same.high, 1.0);
    const RatioEstimate other_noise = hodges_lehmann_ratio(base, spread_samples(20.0, 5));
    EXPECT_LT(other_noise.low, 1.0);
    EXPECT_GT(other_noise.high, 1.0);
}

TEST(HodgesLehmann, RejectsBadInput) {
    const V ok{1.0, 2.0};
    EXPECT_THROW(hodges_lehmann_ratio(V{}, ok), std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(ok, V{1.0, 0.0}), std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(V{-1.0, 2.0}, ok), std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(ok, V{1.0, std::nan("")}), std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(ok, V{1.0, std::numeric_limits<double>::infinity()}),
                 std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(ok, ok, 1.0), std::invalid_argument);
    EXPECT_THROW(hodges_lehmann_ratio(ok, ok, 0.0), std::invalid_argument);
    EXPECT_THROW(ratio_of_medians(ok, V{}), std::invalid_argument);
    EXPECT_THROW(ratio_of_medians(V{0.0}, ok), std::invalid_argument);
}

TEST(HodgesLehmann, RatioOfMedians) {
    // np.median(c1) / np.median(b1) -> 1.0837438423645323 (odd cand, even base)
    expect_rel(1.0837438423645323, ratio_of_medians(kSmallBase, kSmallCand));
    // np.median(c2) / np.median(b2) -> 1.019607843137255
    expect_rel(1.019607843137255,
               ratio_of_medians(V{5.0, 5.0, 5.1, 5.2, 5.2, 5.3, 5.0, 5.1},
                                V{5.1, 5.2, 5.2, 5.4, 5.3, 5.5, 5.2, 5.1, 5.3}));
}

}  // namespace
}  // namespace rwkvb
