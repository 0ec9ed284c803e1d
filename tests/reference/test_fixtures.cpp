// The golden reference against the OFFICIAL implementation's float64 logits, every fixture
// case: per step relative L2 ≤ 1e-9 and the same arg-max.
#include <cstdio>

#include <gtest/gtest.h>

#include "golden_util.hpp"

namespace rwkvb::test {
namespace {

TEST(ReferenceFixtures, EveryCaseMatchesOfficialFloat64) {
    const auto cases = fixture_cases();  // throws (test fails) when fixtures are missing
    double worst = 0;
    std::string worst_case;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        Golden g(c.model);
        const GoldenCase gc = load_case(c.name);  // checks T and the logits' shape
        const auto& tokens = gc.tokens;
        const auto& ref = gc.logits;
        ASSERT_EQ(static_cast<int>(tokens.size()), c.T);
        ASSERT_EQ(ref.size(), tokens.size() * g.V());
        const auto got = run_sequential(g, tokens);
        double case_max = 0;
        int steps_argmax_differ = 0;
        for (size_t t = 0; t < tokens.size(); ++t) {
            const double e = rel_l2(got.data() + t * g.V(), ref.data() + t * g.V(), g.V());
            case_max = std::max(case_max, e);
            if (argmax(got.data() + t * g.V(), g.V()) != argmax(ref.data() + t * g.V(), g.V())) ++steps_argmax_differ;
        }
        std::printf("  %-12s %s  T=%-5zu max rel L2 vs official fp64 = %.3e\n", c.name.c_str(),
                    describe(g.cfg).c_str(), tokens.size(), case_max);
        EXPECT_LE(case_max, 1e-9) << c.name;
        EXPECT_EQ(steps_argmax_differ, 0) << c.name;
        if (case_max > worst) worst = case_max, worst_case = c.name;
    }
    std::printf("  worst over %zu cases: %.3e (%s)\n", cases.size(), worst, worst_case.c_str());
}

}  // namespace
}  // namespace rwkvb::test
