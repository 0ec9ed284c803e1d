#include "metrics.hpp"

#include "parity/parity.hpp"

#include <stdexcept>
#include <vector>

namespace rwkvb::test {
namespace {

template <class A>
StreamMetrics compare(std::span<const A> test, std::span<const double> golden, int64_t steps, int64_t vocab) {
    const size_t V = size_t(vocab);
    if (test.size() < size_t(steps) * V || golden.size() < size_t(steps) * V)
        throw std::invalid_argument("compare_to_golden: fewer logits than steps × vocab");
    StreamMetrics m;
    std::vector<double> row(V);
    double kl_sum = 0;
    int64_t counted = 0, agree = 0;
    for (int64_t t = 0; t < steps; ++t) {
        for (size_t i = 0; i < V; ++i) row[i] = double(test[size_t(t) * V + i]);
        const StepParity s = compare_step(golden.subspan(size_t(t) * V, V), row);
        if (s.rel_l2 > m.max_rel_l2 || !std::isfinite(s.rel_l2)) {
            m.max_rel_l2 = s.rel_l2;
            m.worst_step = t;
        }
        kl_sum += s.kl;
        m.argmax_mismatch += s.backend_top1 != s.golden_top1;
        if (s.top1_counted) {
            ++counted;
            agree += s.backend_top1 == s.golden_top1;
        }
    }
    m.mean_kl = steps > 0 ? kl_sum / double(steps) : 0;
    m.top1 = counted ? double(agree) / double(counted) : 1.0;
    return m;
}

}  // namespace

StreamMetrics compare_to_golden(std::span<const float> test, std::span<const double> golden, int64_t steps,
                                int64_t vocab) {
    return compare(test, golden, steps, vocab);
}

StreamMetrics compare_to_golden(std::span<const double> test, std::span<const double> golden, int64_t steps,
                                int64_t vocab) {
    return compare(test, golden, steps, vocab);
}

}  // namespace rwkvb::test
