#include "run/interleave.hpp"

#include "measure/stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace rwkvb {

bool interleaved_scenario(const CellSpec& spec) {
    return spec.scenario == Scenario::prefill || spec.scenario == Scenario::decode || spec.scenario == Scenario::batch;
}

CellSpec interleave_round_spec(const CellSpec& planned, int rounds) {
    if (rounds <= 1) return planned;
    CellSpec s = planned;
    ScenarioParams& p = s.params;
    p.repetitions = (planned.params.repetitions + rounds - 1) / rounds;
    p.min_time_s = planned.params.min_time_s / rounds;
    p.max_time_s = planned.params.max_time_s / rounds;
    p.target_ci = 0;
    return s;
}

namespace {

// The stats of one kind merged over rounds: the stored samples concatenated in round order.
// When a round kept only every k-th sample (more than kMaxStoredSamples), the statistics are
// those of the stored samples, n counts every sample measured, and the stride says how thinned.
Stats merge_stats(const std::vector<const Stats*>& parts) {
    std::vector<double> all;
    int64_t measured = 0, stride = 1;
    for (const Stats* s : parts) {
        all.insert(all.end(), s->samples.begin(), s->samples.end());
        measured += s->n;
        stride = std::max(stride, s->samples_stride);
    }
    if (all.empty()) return *parts.back();  // nothing stored to recompute from
    Stats m = timing_stats(all);
    if (stride > 1) {
        m.samples_stride *= stride;
        m.n = measured;
    }
    return m;
}

// Median of a few numbers (load times of the rounds).
double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Wall-weighted mean of `value` over the rounds whose contention knows it (plain mean when their
// walls are all 0); nullopt when none does.
template <class Get>
std::optional<double> weighted_mean(const std::vector<const Contention*>& parts, Get value) {
    double sum = 0, walls = 0, plain = 0;
    int known = 0;
    for (const Contention* c : parts) {
        const std::optional<double> v = value(*c);
        if (!v) continue;
        sum += *v * c->wall_s;
        walls += c->wall_s;
        plain += *v;
        ++known;
    }
    if (known == 0) return std::nullopt;
    return walls > 0 ? sum / walls : plain / known;
}

Contention merge_contention(const std::vector<const Contention*>& parts) {
    Contention m;
    m.foreign_cpu_cores = weighted_mean(parts, [](const Contention& c) { return c.foreign_cpu_cores; });
    m.steal_cores = weighted_mean(parts, [](const Contention& c) { return c.steal_cores; });
    m.resolution_cores =
        weighted_mean(parts, [](const Contention& c) { return std::optional(c.resolution_cores); }).value_or(0);
    for (const Contention* c : parts) {
        m.wall_s += c->wall_s;
        m.bound_cores = std::max(m.bound_cores, c->bound_cores);
        m.contended = m.contended || c->contended;
    }
    if (m.foreign_cpu_cores &&
        *m.foreign_cpu_cores + m.steal_cores.value_or(0) - m.resolution_cores > m.bound_cores)
        m.contended = true;
    return m;
}

Memory merge_memory(const std::vector<const Memory*>& parts) {
    Memory m;
    for (const Memory* x : parts) {
        m.plugin.weights = std::max(m.plugin.weights, x->plugin.weights);
        m.plugin.state = std::max(m.plugin.state, x->plugin.state);
        m.plugin.workspace = std::max(m.plugin.workspace, x->plugin.workspace);
        m.plugin.peak = std::max(m.plugin.peak, x->plugin.peak);
        m.theoretical_weight_bytes = std::max(m.theoretical_weight_bytes, x->theoretical_weight_bytes);
        m.state_bytes_per_stream = std::max(m.state_bytes_per_stream, x->state_bytes_per_stream);
        m.peak_rss_bytes = std::max(m.peak_rss_bytes, x->peak_rss_bytes);
    }
    return m;
}

// The timing a scenario's throughput and roofline are computed from (scenarios.cpp): prefill
// the forward, decode and batch the whole sequence.
const char* rate_timing(Scenario s) { return s == Scenario::prefill ? "forward" : "sequence"; }

// Throughput, roofline and noise from the merged timings, as scenarios.cpp defines them.
// `roofline_round` is the round whose roofline is rescaled (its median was its basis).
void recompute_figures(CellResult& m, const CellSpec& spec, const CellResult* roofline_round) {
    const auto rate = m.timings.find(rate_timing(spec.scenario));
    if (rate == m.timings.end()) return;
    const double med = rate->second.median;
    const auto& p = spec.params;
    Throughput tp = m.throughput.value_or(Throughput{});
    if (spec.scenario == Scenario::prefill) {
        tp.tokens_per_s = p.prompt_tokens / med;
        tp.time_to_first_logits_s = med;
    } else {
        const int batch = spec.scenario == Scenario::batch ? p.batch : 1;
        tp.tokens_per_s = double(batch) * p.decode_tokens / med;
        if (batch > 1) tp.per_stream_tokens_per_s = double(p.decode_tokens) / med;
    }
    m.throughput = tp;

    if (roofline_round && roofline_round->roofline) {
        const auto old = roofline_round->timings.find(rate_timing(spec.scenario));
        Roofline r = *roofline_round->roofline;
        if (old != roofline_round->timings.end() && old->second.median > 0 && med > 0) {
            const double scale = old->second.median / med;
            r.achieved_gbps *= scale;
            r.achieved_gflops *= scale;
            if (r.gbps_fraction_of_limit) *r.gbps_fraction_of_limit *= scale;
            if (r.gflops_fraction_of_limit) *r.gflops_fraction_of_limit *= scale;
        }
        m.roofline = r;
    }

    // Noise of whole repetitions, per-token jitter apart (noise_of in scenarios.cpp).
    const Stats& reps = rate->second;
    Noise n = m.noise.value_or(Noise{});
    if (n.threshold <= 0) n.threshold = kDefaultNoisyCv;
    n.cv = reps.cv;
    n.noisy = reps.cv > n.threshold;
    n.repetitions = reps.n;
    n.jitter_cv.reset();
    const char* per_token = spec.scenario == Scenario::batch ? "step" : spec.scenario == Scenario::decode ? "token" : nullptr;
    if (per_token)
        if (const auto t = m.timings.find(per_token); t != m.timings.end()) n.jitter_cv = t->second.cv;
    m.noise = n;
}

}  // namespace

CellResult merge_rounds(const CellSpec& planned, const std::vector<CellResult>& rounds) {
    if (rounds.empty()) throw std::invalid_argument("merge_rounds: no rounds to merge");
    const CellResult& last = rounds.back();
    CellResult m = last;  // what is the same in every round (backend, model) and the last's outcome
    m.spec = planned;
    m.id = planned.id();
    m.interleave_rounds = int(rounds.size());

    // Status: the first round that did not end ok decides it.
    m.status = CellStatus::ok;
    m.status_detail = last.status_detail;
    for (const auto& r : rounds)
        if (r.status != CellStatus::ok) {
            m.status = r.status;
            m.status_detail = r.status_detail;
            break;
        }

    // Verification: PASS only if every round PASSed.
    m.verification.reset();
    for (const auto& r : rounds) {
        if (!r.verification) continue;
        if (r.verification->verdict != Verdict::pass) {
            m.verification = r.verification;
            break;
        }
        m.verification = r.verification;
    }

    // Timings: every kind any round has, samples concatenated in round order.
    m.timings.clear();
    std::map<std::string, std::vector<const Stats*>> kinds;
    for (const auto& r : rounds)
        for (const auto& [key, s] : r.timings) kinds[key].push_back(&s);
    for (const auto& [key, parts] : kinds) m.timings[key] = merge_stats(parts);

    const CellResult* roofline_round = nullptr;
    for (const auto& r : rounds)
        if (r.roofline && r.timings.count(rate_timing(planned.scenario))) roofline_round = &r;
    m.roofline.reset();
    m.throughput.reset();
    m.noise.reset();
    for (auto it = rounds.rbegin(); it != rounds.rend(); ++it)  // carried fields from the last that has them
        if (it->throughput || it->noise) {
            m.throughput = it->throughput;
            m.noise = it->noise;
            break;
        }
    recompute_figures(m, planned, roofline_round);

    std::vector<const Memory*> memories;
    std::vector<const Contention*> contentions;
    std::vector<double> loads;
    for (const auto& r : rounds) {
        if (r.memory) memories.push_back(&*r.memory);
        if (r.contention) contentions.push_back(&*r.contention);
        if (r.load_s) loads.push_back(*r.load_s);
    }
    m.memory.reset();
    if (!memories.empty()) m.memory = merge_memory(memories);
    m.contention.reset();
    if (!contentions.empty()) m.contention = merge_contention(contentions);
    m.load_s.reset();
    if (!loads.empty()) m.load_s = median_of(loads);

    if (m.worker)
        for (const auto& r : rounds) {
            if (!r.worker) continue;
            m.worker->peak_rss_bytes = std::max(m.worker->peak_rss_bytes, r.worker->peak_rss_bytes);
            if (r.worker->peak_anon_bytes)
                m.worker->peak_anon_bytes = std::max(m.worker->peak_anon_bytes.value_or(0), *r.worker->peak_anon_bytes);
        }

    const nlohmann::json& first_load = rounds.front().host_load;
    if (first_load.is_object() && last.host_load.is_object() && first_load.contains("before") &&
        last.host_load.contains("after"))
        m.host_load = {{"before", first_load["before"]}, {"after", last.host_load["after"]}};
    return m;
}

}  // namespace rwkvb
