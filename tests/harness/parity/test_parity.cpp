// Parity metrics on hand-computed cases, thresholds, and the official fp32-vs-fp64 fixtures.
#include "errors.hpp"
#include "parity/parity.hpp"
#include "safetensors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

namespace rwkvb {
namespace {

TEST(Parity, StepMetricsByHand) {
    const std::vector<double> g = {0, 1, 2}, b = {0, 1, 2.1};
    const StepParity s = compare_step(g, b);
    EXPECT_NEAR(s.rel_l2, 0.1 / std::sqrt(5.0), 1e-15);
    EXPECT_NEAR(s.max_abs, 0.1, 1e-15);
    // KL(softmax g ‖ softmax b), evaluated independently in Python (math.exp/log).
    EXPECT_NEAR(s.kl, 0.0011009093961530832, 1e-14);
    EXPECT_EQ(s.golden_top1, 2);
    EXPECT_EQ(s.backend_top1, 2);
    EXPECT_TRUE(s.top1_counted);
    EXPECT_DOUBLE_EQ(s.golden_margin, 1.0);
}

TEST(Parity, IdenticalLogitsHaveZeroError) {
    const std::vector<double> g = {0.5, -1, 3, 2.5};
    const StepParity s = compare_step(g, g);
    EXPECT_EQ(s.rel_l2, 0);
    EXPECT_EQ(s.max_abs, 0);
    EXPECT_EQ(s.kl, 0);
}

TEST(Parity, NearTiesAreNotCountedForTop1) {
    const std::vector<double> g = {1, 1 + 1e-6, 0}, b = {1 + 1e-6, 1, 0};
    const StepParity s = compare_step(g, b);
    EXPECT_FALSE(s.top1_counted);  // margin 1e-6 < 1e-3 × std ≈ 4.7e-4
    EXPECT_NE(s.golden_top1, s.backend_top1);
    const auto r = evaluate_parity(g, b, 1, 3, default_thresholds(DType::F32));
    EXPECT_TRUE(r.pass);
    EXPECT_EQ(r.json["top1"]["counted"], 0);
    EXPECT_EQ(r.json["top1"]["excluded_near_ties"], 1);
}

TEST(Parity, FlippedClearTop1FailsF32) {
    const std::vector<double> g = {0, 1, 2}, b = {0, 2, 1};
    const auto r = evaluate_parity(g, b, 1, 3, default_thresholds(DType::F32));
    EXPECT_FALSE(r.pass);
    EXPECT_EQ(r.json["verdict"], "FAIL");
    EXPECT_DOUBLE_EQ(r.json["top1"]["agreement"].get<double>(), 0.0);
}

// Backend = golden × (1 + e_t) with e_t = 9e-4·(t+1): rel L2 at step t is e_t.
TEST(Parity, AggregatesAndDrift) {
    const int steps = 20, vocab = 5;
    std::vector<double> g, b;
    for (int t = 0; t < steps; ++t)
        for (int i = 0; i < vocab; ++i) {
            const double v = std::sin(1.0 + t * 7 + i * 3) * 3;
            g.push_back(v);
            b.push_back(v * (1 + 9e-4 * (t + 1)));
        }
    const auto r = evaluate_parity(g, b, steps, vocab, default_thresholds(DType::F16));
    EXPECT_NEAR(r.json["rel_l2"]["max"].get<double>(), 0.018, 1e-12);
    EXPECT_EQ(r.json["rel_l2"]["step_of_max"], 19);
    EXPECT_NEAR(r.json["rel_l2"]["mean"].get<double>(), 0.00945, 1e-12);
    EXPECT_NEAR(r.json["drift"]["rel_l2_slope_per_step"].get<double>(), 9e-4, 1e-12);
    // last 10% = steps 18,19 (mean 19.5·9e-4); first 10% = steps 0,1 (mean 1.5·9e-4).
    EXPECT_NEAR(r.json["drift"]["last_over_first_10pct"].get<double>(), 13.0, 1e-9);
    EXPECT_TRUE(r.pass) << r.json["failures"].dump();  // 0.018 ≤ 2e-2; scaling keeps the top-1
    EXPECT_FALSE(evaluate_parity(g, b, steps, vocab, default_thresholds(DType::F32)).pass);
}

TEST(Parity, NonFiniteLogitsFail) {
    const std::vector<double> g = {0, 1, 2, 0, 1, 2}, b = {0, 1, 2, 0, NAN, 2};
    const auto r = evaluate_parity(g, b, 2, 3, default_thresholds(DType::I8));
    EXPECT_FALSE(r.pass);
    EXPECT_EQ(r.json["non_finite_steps"], 1);
    EXPECT_TRUE(r.json["per_step"]["rel_l2"][1].is_null());
    EXPECT_NE(r.failures.at(0).find("non-finite"), std::string::npos);
}

TEST(Parity, DefaultThresholdsFollowTheDesign) {
    const auto f32 = default_thresholds(DType::F32);
    EXPECT_EQ(*f32.max_rel_l2, 1e-4);
    EXPECT_EQ(*f32.min_top1, 1.0);
    EXPECT_FALSE(f32.max_mean_kl);
    const auto bf16 = default_thresholds(DType::BF16);
    EXPECT_EQ(*bf16.max_rel_l2, 2e-2);
    EXPECT_EQ(*bf16.min_top1, 0.99);
    EXPECT_EQ(*bf16.max_mean_kl, 1e-3);
    const auto i8 = default_thresholds(DType::I8);
    EXPECT_FALSE(i8.max_rel_l2);
    EXPECT_EQ(*i8.min_top1, 0.97);
    EXPECT_EQ(*i8.max_mean_kl, 1e-2);
}

TEST(Parity, OverridesReplaceOrDisableChecks) {
    const auto t = thresholds_with_overrides(DType::F32, {{"max_rel_l2", 1e-3}, {"min_top1", nullptr}});
    EXPECT_EQ(*t.max_rel_l2, 1e-3);
    EXPECT_FALSE(t.min_top1);
    EXPECT_THROW(thresholds_with_overrides(DType::F32, {{"max_rel", 1}}), InputError);
    EXPECT_THROW(thresholds_with_overrides(DType::F32, {{"min_top1", 2}}), InputError);
    EXPECT_THROW(thresholds_with_overrides(DType::F32, {{"max_mean_kl", "x"}}), InputError);
    EXPECT_THROW(thresholds_with_overrides(DType::F32, nlohmann::json::array()), InputError);
}

// The official code's own fp32 run against its fp64 run: our metrics must reproduce the numbers
// the fixture generator recorded (independently, in numpy), and fp32 noise must PASS f32.
TEST(Parity, OfficialFp32AgainstFp64Fixtures) {
    const std::filesystem::path dir = RWKVB_FIXTURES_DIR;
    std::ifstream in(dir / "fixtures.json");
    ASSERT_TRUE(in) << "fixtures missing: " << dir;
    const auto index = nlohmann::json::parse(in);
    for (const char* name : {"rwkv4-tiny", "rwkv5-small", "rwkv7-long"}) {
        SCOPED_TRACE(name);
        auto f = SafetensorsFile::open(dir / name / "golden.safetensors");
        const auto& ref = f.at("logits");
        const auto& low = f.at("logits_fp32");
        const int steps = int(ref.shape.at(0)), vocab = int(ref.shape.at(1));
        std::vector<double> g(size_t(steps) * vocab), b(g.size());
        for (size_t i = 0; i < g.size(); ++i) {
            g[i] = load_as_double(ref.dtype, ref.data, i);
            b[i] = load_as_double(low.dtype, low.data, i);
        }
        const auto r = evaluate_parity(g, b, steps, vocab, default_thresholds(DType::F32));
        const auto& floor = index.at("noise_floor_summary").at(name);
        EXPECT_NEAR(r.json["rel_l2"]["max"].get<double>(), floor.at("fp32_max_rel_l2").get<double>(),
                    1e-9 * floor.at("fp32_max_rel_l2").get<double>());
        EXPECT_NEAR(r.json["max_abs"]["max"].get<double>(), floor.at("fp32_max_abs").get<double>(), 1e-12);
        EXPECT_TRUE(r.pass) << r.json["failures"].dump();
    }
}

}  // namespace
}  // namespace rwkvb
