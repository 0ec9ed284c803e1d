// Summary statistics against values computed by hand (see the comments for the arithmetic).
#include "measure/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace rwkvb {
namespace {

TEST(Stats, OneToTenShuffled) {
    const std::vector<double> x = {7, 1, 10, 3, 5, 2, 9, 4, 8, 6};
    const Summary s = summarize(x);
    EXPECT_EQ(s.n, 10u);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 10);
    EXPECT_DOUBLE_EQ(s.median, 5.5);  // h = 9·0.5 = 4.5 → between 5 and 6
    EXPECT_DOUBLE_EQ(s.p90, 9.1);     // h = 8.1 → 9 + 0.1·(10 − 9)
    EXPECT_DOUBLE_EQ(s.p99, 9.91);    // h = 8.91
    EXPECT_DOUBLE_EQ(s.mean, 5.5);
    EXPECT_NEAR(s.stddev, 3.0276503540974917, 1e-12);  // sqrt(82.5 / 9)
    EXPECT_NEAR(s.cv, 3.0276503540974917 / 5.5, 1e-12);
    // n = 10: P(Bin ≤ 1) = 11/1024 ≤ 2.5% < P(Bin ≤ 2) = 56/1024 → ranks 2 and 9.
    EXPECT_DOUBLE_EQ(s.ci95_low, 2);
    EXPECT_DOUBLE_EQ(s.ci95_high, 9);
    EXPECT_NEAR(s.ci95_coverage, 1 - 2 * 11.0 / 1024, 1e-12);
    EXPECT_TRUE(s.noisy);  // CV 0.55 > 0.10
}

TEST(Stats, SmallSampleUsesMinMaxWithItsTrueCoverage) {
    const std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
    const Summary s = summarize(x);
    EXPECT_DOUBLE_EQ(s.median, 4.5);
    EXPECT_DOUBLE_EQ(s.mean, 5);
    EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7), 1e-12);
    // n = 8: P(Bin ≤ 1) = 9/256 > 2.5% → only [min, max], coverage 1 − 2/256.
    EXPECT_DOUBLE_EQ(s.ci95_low, 2);
    EXPECT_DOUBLE_EQ(s.ci95_high, 9);
    EXPECT_NEAR(s.ci95_coverage, 1 - 2.0 / 256, 1e-12);
}

TEST(Stats, HundredSamplesMatchTheTabulatedRanks) {
    std::vector<double> x(100);
    std::iota(x.begin(), x.end(), 1.0);
    const Summary s = summarize(x);
    // Standard table for n = 100: the 95% interval of the median is (x_(40), x_(61)).
    EXPECT_DOUBLE_EQ(s.ci95_low, 40);
    EXPECT_DOUBLE_EQ(s.ci95_high, 61);
    EXPECT_GE(s.ci95_coverage, 0.95);
    EXPECT_LT(s.ci95_coverage, 0.97);
}

TEST(Stats, SingleAndConstantSamples) {
    const std::vector<double> one = {4};
    const Summary s = summarize(one);
    EXPECT_DOUBLE_EQ(s.median, 4);
    EXPECT_DOUBLE_EQ(s.p99, 4);
    EXPECT_DOUBLE_EQ(s.stddev, 0);
    EXPECT_FALSE(s.noisy);
    const std::vector<double> flat(20, 3.0);
    const Summary f = summarize(flat);
    EXPECT_DOUBLE_EQ(f.cv, 0);
    EXPECT_FALSE(f.noisy);
}

TEST(Stats, NoisyThresholdIsAParameter) {
    const std::vector<double> x = {1.0, 1.1, 0.9, 1.05, 0.95};  // CV ≈ 0.079
    EXPECT_FALSE(summarize(x).noisy);
    EXPECT_TRUE(summarize(x, 0.05).noisy);
}

TEST(Stats, EmptyIsAnError) {
    EXPECT_THROW(summarize(std::vector<double>{}), std::invalid_argument);
}

TEST(Stats, JsonKeepsSamplesInMeasurementOrder) {
    const std::vector<double> x = {3, 1, 2};
    const auto j = stats_json(x);
    EXPECT_EQ(j["samples"], nlohmann::json({3, 1, 2}));
    EXPECT_DOUBLE_EQ(j["median"].get<double>(), 2);
    EXPECT_TRUE(j["ci95"].contains("coverage"));
    EXPECT_EQ(j["samples_stride"], 1);
}

// A fast backend's decode cell yields up to decode_tokens × 100000 samples: the CI search must
// be linear (it was quadratic: ~1 s at 16k samples, minutes at 1e5). No timing is asserted; this
// simply has to finish within the test's time like every other test.
TEST(Stats, HundredThousandSamplesHaveTheNormalLimitRanks) {
    const size_t n = 100000;
    std::vector<double> x(n);
    std::iota(x.begin(), x.end(), 1.0);
    std::reverse(x.begin(), x.end());
    const Summary s = summarize(x);
    EXPECT_DOUBLE_EQ(s.median, 50000.5);
    // Normal limit with continuity correction: l = n/2 − 1.95996·√n/2 − ½ rounded up = 49690.
    EXPECT_NEAR(s.ci95_low, 49690, 1);
    EXPECT_DOUBLE_EQ(s.ci95_high, double(n) + 1 - s.ci95_low);  // ranks l and n + 1 − l
    EXPECT_GE(s.ci95_coverage, 0.95);
    EXPECT_LT(s.ci95_coverage, 0.951);  // one rank step moves it by ≈ 7e-4 here
}

TEST(Stats, JsonThinsStoredSamplesAboveTheCapButStatisticsUseAll) {
    const size_t n = 2 * kMaxStoredSamples + 1;  // stride 3
    std::vector<double> x(n);
    std::iota(x.begin(), x.end(), 0.0);
    const auto j = stats_json(x);
    EXPECT_EQ(j["n"].get<size_t>(), n);
    EXPECT_DOUBLE_EQ(j["median"].get<double>(), double(kMaxStoredSamples));
    EXPECT_DOUBLE_EQ(j["max"].get<double>(), double(n - 1));
    EXPECT_EQ(j["samples_stride"], 3);
    ASSERT_EQ(j["samples"].size(), (n + 2) / 3);
    EXPECT_EQ(j["samples"][1], 3.0);  // every third, in measurement order
    EXPECT_LE(j["samples"].size(), kMaxStoredSamples);
    const std::vector<double> at_cap(kMaxStoredSamples, 1.0);
    EXPECT_EQ(stats_json(at_cap)["samples"].size(), kMaxStoredSamples);  // all kept up to the cap
}

}  // namespace
}  // namespace rwkvb
