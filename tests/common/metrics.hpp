// Parity metrics of DESIGN.md §6 for tests: relative L2 and arg-max of one step, for logits in
// float or double, and a whole stream against the golden through the harness's own per-step
// comparison (parity.hpp), so tests judge with the same definitions as `rwkvbench run`.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>

namespace rwkvb::test {

// ‖test − ref‖₂ / ‖ref‖₂ over n entries, accumulated in double.
template <class A, class B>
double rel_l2(const A* test, const B* ref, size_t n) {
    double diff2 = 0, ref2 = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = double(test[i]) - double(ref[i]);
        diff2 += d * d;
        ref2 += double(ref[i]) * double(ref[i]);
    }
    return std::sqrt(diff2) / std::sqrt(ref2);
}

// Index of the first largest entry.
template <class A>
int argmax(const A* x, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return static_cast<int>(best);
}

// Largest rel_l2 over `steps` rows of `vocab` entries each.
template <class A, class B>
double max_rel_l2(const A* test, const B* ref, int64_t steps, int64_t vocab) {
    double worst = 0;
    for (int64_t t = 0; t < steps; ++t)
        worst = std::fmax(worst, rel_l2(test + t * vocab, ref + t * vocab, size_t(vocab)));
    return worst;
}

struct StreamMetrics {
    double max_rel_l2 = 0;
    int64_t worst_step = 0;
    double mean_kl = 0;          // KL(softmax golden ‖ softmax test), mean over steps
    double top1 = 1;             // agreement over steps whose golden top-2 margin counts
    int64_t argmax_mismatch = 0; // steps whose arg-max differs, margin or not
};

// test and golden: [steps][vocab] row-major.
StreamMetrics compare_to_golden(std::span<const float> test, std::span<const double> golden, int64_t steps,
                                int64_t vocab);
StreamMetrics compare_to_golden(std::span<const double> test, std::span<const double> golden, int64_t steps,
                                int64_t vocab);

}  // namespace rwkvb::test
