#include "parity/parity.hpp"

#include "errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace rwkvb {
namespace {

double log_sum_exp(std::span<const double> x) {
    const double m = *std::max_element(x.begin(), x.end());
    double s = 0;
    for (double v : x) s += std::exp(v - m);
    return m + std::log(s);
}

nlohmann::json series(const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::json(x) : nlohmann::json());
    return a;
}

}  // namespace

StepParity compare_step(std::span<const double> g, std::span<const double> b, double margin_factor) {
    if (g.size() != b.size() || g.empty()) throw std::invalid_argument("compare_step: sizes differ or are 0");
    StepParity r;
    const size_t v = g.size();
    for (double x : b)
        if (!std::isfinite(x)) r.finite = false;

    double diff2 = 0, g2 = 0, gsum = 0;
    for (size_t i = 0; i < v; ++i) {
        const double d = b[i] - g[i];
        diff2 += d * d;
        g2 += g[i] * g[i];
        gsum += g[i];
        r.max_abs = std::max(r.max_abs, std::fabs(d));
    }
    r.rel_l2 = g2 > 0 ? std::sqrt(diff2) / std::sqrt(g2) : std::sqrt(diff2);

    // Golden top-2 and the std of its logits (population std: a property of this one vector).
    size_t i1 = 0, i2 = v > 1 ? 1 : 0;
    if (v > 1 && g[i2] > g[i1]) std::swap(i1, i2);
    for (size_t i = 2; i < v; ++i) {
        if (g[i] > g[i1]) {
            i2 = i1;
            i1 = i;
        } else if (g[i] > g[i2]) {
            i2 = i;
        }
    }
    const double mean = gsum / double(v);
    double var = 0;
    for (double x : g) var += (x - mean) * (x - mean);
    const double stdev = std::sqrt(var / double(v));
    r.golden_top1 = static_cast<int>(i1);
    r.golden_margin = v > 1 ? g[i1] - g[i2] : std::numeric_limits<double>::infinity();
    r.top1_counted = r.golden_margin > margin_factor * stdev;
    if (!r.finite) {
        r.backend_top1 = -1;
        r.kl = std::numeric_limits<double>::quiet_NaN();
        return r;
    }
    r.backend_top1 = static_cast<int>(std::max_element(b.begin(), b.end()) - b.begin());

    const double lg = log_sum_exp(g), lb = log_sum_exp(b);
    double kl = 0;
    for (size_t i = 0; i < v; ++i) {
        const double log_pg = g[i] - lg;
        kl += std::exp(log_pg) * (log_pg - (b[i] - lb));
    }
    r.kl = std::max(kl, 0.0);  // rounding can leave a tiny negative value for identical inputs
    return r;
}

ParityThresholds default_thresholds(DType d) {
    ParityThresholds t;
    switch (d) {
        case DType::F64:
        case DType::F32:
            t.max_rel_l2 = 1e-4;
            t.min_top1 = 1.0;
            break;
        case DType::F16:
        case DType::BF16:
            t.max_rel_l2 = 2e-2;
            t.min_top1 = 0.99;
            t.max_mean_kl = 1e-3;
            break;
        case DType::I8:
        case DType::U8:
            t.min_top1 = 0.97;
            t.max_mean_kl = 1e-2;
            break;
        case DType::I32:
            throw InputError("parity: I32 is not a weight dtype");
    }
    return t;
}

ParityThresholds thresholds_with_overrides(DType weight_dtype, const nlohmann::json& o) {
    ParityThresholds t = default_thresholds(weight_dtype);
    if (o.is_null()) return t;
    if (!o.is_object()) throw InputError("parity thresholds: expected a JSON object");
    for (const auto& [key, value] : o.items()) {
        std::optional<double>* slot = nullptr;
        if (key == "max_rel_l2") slot = &t.max_rel_l2;
        else if (key == "min_top1") slot = &t.min_top1;
        else if (key == "max_mean_kl") slot = &t.max_mean_kl;
        else if (key != "top1_margin_factor")
            throw InputError(fmt::format("parity thresholds: unknown key '{}' (known: max_rel_l2, min_top1, "
                                         "max_mean_kl, top1_margin_factor)", key));
        if (value.is_null() && slot) {
            slot->reset();
            continue;
        }
        if (!value.is_number() || value.get<double>() < 0 || !std::isfinite(value.get<double>()))
            throw InputError(fmt::format("parity thresholds: '{}' must be a non-negative number{}", key,
                                         slot ? " or null" : ""));
        if (slot) *slot = value.get<double>();
        else t.top1_margin_factor = value.get<double>();
    }
    if (t.min_top1 && *t.min_top1 > 1)
        throw InputError("parity thresholds: 'min_top1' is a fraction in [0, 1]");
    return t;
}

nlohmann::json to_json(const ParityThresholds& t) {
    auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
    return {{"max_rel_l2", opt(t.max_rel_l2)},
            {"min_top1", opt(t.min_top1)},
            {"max_mean_kl", opt(t.max_mean_kl)},
            {"top1_margin_factor", t.top1_margin_factor}};
}

ParityReport evaluate_parity(std::span<const double> golden, std::span<const double> backend, int steps,
                             int vocab, const ParityThresholds& thresholds) {
    if (steps <= 0 || vocab <= 0 || golden.size() != size_t(steps) * size_t(vocab) ||
        backend.size() != golden.size())
        throw std::invalid_argument("evaluate_parity: logits are not steps × vocab");
    ParityReport r;
    r.thresholds = thresholds;
    for (int t = 0; t < steps; ++t) {
        const size_t off = size_t(t) * size_t(vocab);
        r.steps.push_back(compare_step(golden.subspan(off, vocab), backend.subspan(off, vocab),
                                       thresholds.top1_margin_factor));
    }

    int non_finite = 0, counted = 0, agreed = 0;
    double max_rel = 0, sum_rel = 0, max_abs = 0, max_kl = 0, sum_kl = 0;
    int step_max_rel = 0, step_max_kl = 0, first_non_finite = -1;
    std::vector<double> rel, kl, abs_err;
    for (int t = 0; t < steps; ++t) {
        const auto& s = r.steps[size_t(t)];
        if (s.top1_counted) {
            ++counted;
            agreed += s.finite && s.backend_top1 == s.golden_top1;
        }
        if (!s.finite) {
            if (first_non_finite < 0) first_non_finite = t;
            ++non_finite;
            rel.push_back(std::nan(""));
            kl.push_back(std::nan(""));
            abs_err.push_back(std::nan(""));
            continue;
        }
        rel.push_back(s.rel_l2);
        kl.push_back(s.kl);
        abs_err.push_back(s.max_abs);
        sum_rel += s.rel_l2;
        sum_kl += s.kl;
        max_abs = std::max(max_abs, s.max_abs);
        if (s.rel_l2 > max_rel) max_rel = s.rel_l2, step_max_rel = t;
        if (s.kl > max_kl) max_kl = s.kl, step_max_kl = t;
    }
    const int finite = steps - non_finite;
    const double mean_rel = finite ? sum_rel / finite : 0, mean_kl = finite ? sum_kl / finite : 0;
    const double top1 = counted ? double(agreed) / counted : 1.0;

    // Drift over finite steps: least-squares slope of rel L2 on t, and last-10% / first-10% means.
    double slope = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    std::vector<double> fin;
    for (int t = 0; t < steps; ++t)
        if (r.steps[size_t(t)].finite) {
            sx += t, sy += rel[size_t(t)], sxx += double(t) * t, sxy += t * rel[size_t(t)];
            fin.push_back(rel[size_t(t)]);
        }
    if (finite > 1) {
        const double den = finite * sxx - sx * sx;
        slope = den != 0 ? (finite * sxy - sx * sy) / den : 0;
    }
    nlohmann::json ratio = nullptr;
    if (!fin.empty()) {
        const size_t k = std::max<size_t>(1, fin.size() / 10);
        double first = 0, last = 0;
        for (size_t i = 0; i < k; ++i) first += fin[i], last += fin[fin.size() - k + i];
        if (first > 0) ratio = last / first;
    }

    const auto& th = thresholds;
    if (non_finite)
        r.failures.push_back(fmt::format("{} of {} steps have non-finite logits (first at step {})", non_finite,
                                         steps, first_non_finite));
    // Written as "not within" so that a NaN metric (a non-finite golden) fails instead of passing.
    if (th.max_rel_l2 && !(max_rel <= *th.max_rel_l2))
        r.failures.push_back(fmt::format("max rel L2 {:.3g} (step {}) > {:.3g}", max_rel, step_max_rel,
                                         *th.max_rel_l2));
    if (th.min_top1 && !(top1 >= *th.min_top1))
        r.failures.push_back(fmt::format("top-1 agreement {:.4g}% ({}/{}) < {:.4g}%", 100 * top1, agreed,
                                         counted, 100 * *th.min_top1));
    if (th.max_mean_kl && !(mean_kl <= *th.max_mean_kl))
        r.failures.push_back(fmt::format("mean KL {:.3g} > {:.3g}", mean_kl, *th.max_mean_kl));
    r.pass = r.failures.empty();

    r.json = {
        {"verdict", r.pass ? "PASS" : "FAIL"},
        {"failures", r.failures},
        {"thresholds", to_json(th)},
        {"steps", steps},
        {"vocab", vocab},
        {"non_finite_steps", non_finite},
        {"rel_l2", {{"max", max_rel}, {"mean", mean_rel}, {"step_of_max", step_max_rel}}},
        {"max_abs", {{"max", max_abs}}},
        {"kl", {{"max", max_kl}, {"mean", mean_kl}, {"step_of_max", step_max_kl}}},
        {"top1", {{"agreement", top1}, {"agreed", agreed}, {"counted", counted}, {"excluded_near_ties", steps - counted}}},
        {"drift", {{"rel_l2_slope_per_step", slope}, {"last_over_first_10pct", ratio}}},
        // Per-step series for plots; a non-finite step is null.
        {"per_step", {{"rel_l2", series(rel)}, {"max_abs", series(abs_err)}, {"kl", series(kl)}}},
    };
    return r;
}

}  // namespace rwkvb
