// Long decode on synthetic weights, one tiny preset per version (5.0 and 5.1 included, which no
// official fixture covers): 4096 steps without NaN/Inf, logits well inside float16 range, and
// a finite recurrent state.
#include <unistd.h>

#include <cstdio>

#include <gtest/gtest.h>

#include "golden_util.hpp"
#include "presets.hpp"
#include "synth.hpp"
#include "tokens.hpp"

namespace rwkvb::test {
namespace {

class ReferenceStability : public ::testing::TestWithParam<const char*> {};

TEST_P(ReferenceStability, FourThousandDecodeStepsStayFiniteAndInHalfRange) {
    const Preset* p = find_preset(GetParam());
    ASSERT_NE(p, nullptr) << "preset " << GetParam() << " is missing";
    const fs::path model = fs::temp_directory_path() /
                           ("rwkvb_ref_stab_" + std::string(GetParam()) + "_" + std::to_string(getpid()) + ".safetensors");
    write_synthetic_model(p->config, 7, DType::F32, model, p->name);
    {
        Golden g(model, 1);
        const int V = g.V(), steps = 4096;
        const auto tokens = synthetic_tokens(11, steps, V);
        rwkvb_state* st = g.session->new_state(1);
        std::vector<double> logits(V);
        double max_abs = 0;
        int bad_step = -1;
        for (int t = 0; t < steps && bad_step < 0; ++t) {
            g.session->forward(st, &tokens[t], 1, 1, logits.data(), RWKVB_LOGITS_LAST);
            for (double x : logits) {
                if (!std::isfinite(x)) bad_step = t;
                max_abs = std::max(max_abs, std::abs(x));
            }
        }
        EXPECT_EQ(bad_step, -1) << "non-finite logits at step " << bad_step;
        EXPECT_LT(max_abs, 1e4);
        size_t n = 0;
        const auto& table = g.session->plugin().table();
        ASSERT_EQ(table.state_export(g.session->context(), st, 0, nullptr, &n), RWKVB_OK);
        std::vector<float> s(n);
        ASSERT_EQ(table.state_export(g.session->context(), st, 0, s.data(), &n), RWKVB_OK);
        float state_max = 0;
        for (float x : s) {
            ASSERT_TRUE(std::isfinite(x));
            if (std::abs(x) < 1e29f) state_max = std::max(state_max, std::abs(x));  // v4 pp scale excluded
        }
        std::printf("  %-14s max |logit| over %d steps = %.3f, max |state| = %.3f\n", GetParam(), steps, max_abs,
                    state_max);
        g.session->free_state(st);
    }
    fs::remove(model);
}

INSTANTIATE_TEST_SUITE_P(TinyPresets, ReferenceStability,
                         ::testing::Values("rwkv4-tiny", "rwkv5.0-tiny", "rwkv5.1-tiny", "rwkv5-tiny", "rwkv6-tiny",
                                           "rwkv7-tiny"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (char& c : s)
                                 if (c == '-' || c == '.') c = '_';
                             return s;
                         });

}  // namespace
}  // namespace rwkvb::test
