// --interleave (harness/run/interleave.hpp): the spec a round runs, and the merge of the rounds'
// records into the cell's one record, over hand-made records whose figures are known.
#include "run/interleave.hpp"
#include "measure/stats.hpp"
#include "report_writers.hpp"
#include "results.hpp"
#include "schema_validator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

using namespace rwkvb;

namespace {

CellSpec spec_of(Scenario scenario) {
    CellSpec s;
    s.backend = "reference";
    s.workload = "rwkv7-tiny";
    s.scenario = scenario;
    s.params.prompt_tokens = 16;
    s.params.decode_tokens = 8;
    s.params.batch = 4;
    s.params.repetitions = 5;
    s.params.min_time_s = 1.5;
    s.params.max_time_s = 9;
    s.params.target_ci = 0.02;
    s.params.warmup = 2;
    return s;
}

Judgement verdict(Verdict v, const std::string& failure = "") {
    Judgement j;
    j.verdict = v;
    if (!failure.empty()) j.failures.push_back(failure);
    j.detail = {{"note", failure.empty() ? "pass" : failure}};
    return j;
}

Contention contention(double foreign, double steal, double wall, bool contended = false) {
    Contention c;
    c.foreign_cpu_cores = foreign;
    c.steal_cores = steal;
    c.wall_s = wall;
    c.bound_cores = 0.15;
    c.resolution_cores = 0.01;
    c.contended = contended;
    return c;
}

// A round of a prefill cell as scenarios.cpp records it: forward samples, and the figures
// computed from their median (roofline at 2 GB/s and 3 GFLOP/s at that median).
CellResult prefill_round(const CellSpec& spec, std::vector<double> samples) {
    CellResult r = bare_result(spec, CellStatus::ok, "");
    const Stats st = timing_stats(samples);
    r.timings["forward"] = st;
    r.throughput.emplace();
    r.throughput->tokens_per_s = spec.params.prompt_tokens / st.median;
    r.throughput->time_to_first_logits_s = st.median;
    Roofline rf;
    rf.bound = Bound::compute;
    rf.bytes_per_iteration = 2e9 * st.median;
    rf.flops_per_iteration = 3e9 * st.median;
    rf.achieved_gbps = 2, rf.achieved_gflops = 3;
    rf.gbps_fraction_of_limit = 0.2, rf.gflops_fraction_of_limit = 0.3;
    r.roofline = rf;
    r.noise = Noise{st.cv, kDefaultNoisyCv, st.cv > kDefaultNoisyCv, st.n, std::nullopt};
    r.verification = verdict(Verdict::pass);
    r.memory = Memory{{100, 10, 5, 120}, 1000, 64, 5000};
    r.contention = contention(0.0, 0.0, 1.0);
    r.load_s = 0.5;
    r.worker.emplace();
    r.worker->exit_code = 0;
    r.worker->peak_rss_bytes = 5000;
    r.worker->peak_anon_bytes = 4000;
    r.worker->wall_s = 1.0;
    return r;
}

// A round of a decode (batch = 1) or batch cell: per-step samples and sequences of
// decode_tokens steps each.
CellResult decode_round(const CellSpec& spec, const std::vector<double>& step_samples) {
    CellResult r = bare_result(spec, CellStatus::ok, "");
    const int batch = spec.scenario == Scenario::batch ? spec.params.batch : 1;
    const int d = spec.params.decode_tokens;
    std::vector<double> seqs;
    for (size_t i = 0; i + d <= step_samples.size(); i += size_t(d)) {
        double t = 0;
        for (int k = 0; k < d; ++k) t += step_samples[i + size_t(k)];
        seqs.push_back(t);
    }
    const Stats seq = timing_stats(seqs), step = timing_stats(step_samples);
    r.timings[batch == 1 ? "token" : "step"] = step;
    r.timings["sequence"] = seq;
    Throughput tp;
    tp.tokens_per_s = double(batch) * d / seq.median;
    if (batch > 1) tp.per_stream_tokens_per_s = double(d) / seq.median;
    r.throughput = tp;
    Roofline rf;
    rf.bound = Bound::memory;
    rf.achieved_gbps = 1e6 / (seq.median / d) / 1e9;  // 1 MB read per step
    rf.achieved_gflops = 2e6 * batch / (seq.median / d) / 1e9;
    rf.gbps_fraction_of_limit = rf.achieved_gbps / 10;
    r.roofline = rf;
    r.noise = Noise{seq.cv, kDefaultNoisyCv, seq.cv > kDefaultNoisyCv, seq.n, step.cv};
    r.verification = verdict(Verdict::pass);
    r.contention = contention(0.0, 0.0, 1.0);
    return r;
}

}  // namespace

TEST(InterleaveSpec, EachRoundRunsItsShareWithoutAPrecisionTarget) {
    const CellSpec planned = spec_of(Scenario::decode);
    const CellSpec r = interleave_round_spec(planned, 2);
    EXPECT_EQ(r.params.repetitions, 3);  // ceil(5 / 2): the rounds together run at least 5
    EXPECT_DOUBLE_EQ(r.params.min_time_s, 0.75);
    EXPECT_DOUBLE_EQ(r.params.max_time_s, 4.5);
    EXPECT_EQ(r.params.target_ci, 0);
    EXPECT_EQ(r.params.warmup, 2);  // each round is a fresh process: it warms up again
    EXPECT_EQ(r.id(), planned.id());
    EXPECT_EQ(r.params.prompt_tokens, planned.params.prompt_tokens);
    EXPECT_EQ(interleave_round_spec(planned, 5).params.repetitions, 1);
    EXPECT_EQ(interleave_round_spec(planned, 7).params.repetitions, 1);
    EXPECT_EQ(interleave_round_spec(planned, 1).params.target_ci, 0.02);  // 1 round: the plan itself
}

TEST(InterleaveSpec, OnlyRepeatedTimedScenariosAreInterleaved) {
    EXPECT_TRUE(interleaved_scenario(spec_of(Scenario::prefill)));
    EXPECT_TRUE(interleaved_scenario(spec_of(Scenario::decode)));
    EXPECT_TRUE(interleaved_scenario(spec_of(Scenario::batch)));
    EXPECT_FALSE(interleaved_scenario(spec_of(Scenario::parity)));
    EXPECT_FALSE(interleaved_scenario(spec_of(Scenario::long_context)));
}

TEST(InterleaveMerge, SamplesConcatenatedInRoundOrderAndStatisticsRecomputed) {
    const CellSpec planned = spec_of(Scenario::prefill);
    const CellSpec round = interleave_round_spec(planned, 2);
    const std::vector<double> a = {1.0, 1.2, 1.1}, b = {2.0, 2.2, 2.1};
    const CellResult m = merge_rounds(planned, {prefill_round(round, a), prefill_round(round, b)});
    ASSERT_TRUE(m.timings.count("forward"));
    const Stats& f = m.timings.at("forward");
    EXPECT_EQ(f.samples, (std::vector<double>{1.0, 1.2, 1.1, 2.0, 2.2, 2.1}));
    EXPECT_EQ(f.n, 6);
    const Summary want = summarize(f.samples);
    EXPECT_DOUBLE_EQ(f.median, want.median);  // (1.2 + 2.0) / 2, neither round's median
    EXPECT_DOUBLE_EQ(f.median, 1.6);
    EXPECT_DOUBLE_EQ(f.min, 1.0);
    EXPECT_DOUBLE_EQ(f.max, 2.2);
    EXPECT_DOUBLE_EQ(f.cv, want.cv);
    EXPECT_DOUBLE_EQ(f.ci95_low, want.ci95_low);
    EXPECT_DOUBLE_EQ(f.ci95_high, want.ci95_high);
    // The record carries the planned spec and says it was merged from 2 rounds.
    EXPECT_EQ(m.interleave_rounds, 2);
    EXPECT_EQ(m.spec.params.repetitions, planned.params.repetitions);
    EXPECT_EQ(m.spec.params.target_ci, planned.params.target_ci);
    EXPECT_EQ(m.status, CellStatus::ok);
    // Noise of the merged repetitions (the drift between rounds shows in it).
    ASSERT_TRUE(m.noise);
    EXPECT_DOUBLE_EQ(m.noise->cv, want.cv);
    EXPECT_EQ(m.noise->repetitions, 6);
    EXPECT_EQ(m.noise->noisy, want.cv > kDefaultNoisyCv);
    EXPECT_TRUE(m.noise->noisy);
}

TEST(InterleaveMerge, PrefillThroughputAndRooflineFollowTheMergedMedian) {
    const CellSpec planned = spec_of(Scenario::prefill);
    const CellResult r1 = prefill_round(planned, {1.0, 1.0, 1.0}), r2 = prefill_round(planned, {3.0, 3.0, 3.0});
    const CellResult m = merge_rounds(planned, {r1, r2});
    const double med = m.timings.at("forward").median;
    ASSERT_DOUBLE_EQ(med, 2.0);
    ASSERT_TRUE(m.throughput);
    EXPECT_DOUBLE_EQ(m.throughput->tokens_per_s, planned.params.prompt_tokens / med);
    EXPECT_DOUBLE_EQ(*m.throughput->time_to_first_logits_s, med);
    // The last round's roofline (at its median 3 s) rescaled to the merged median: × 3 / 2.
    ASSERT_TRUE(m.roofline);
    EXPECT_EQ(m.roofline->bound, Bound::compute);
    EXPECT_DOUBLE_EQ(m.roofline->achieved_gbps, 2 * 3.0 / 2.0);
    EXPECT_DOUBLE_EQ(m.roofline->achieved_gflops, 3 * 3.0 / 2.0);
    EXPECT_DOUBLE_EQ(*m.roofline->gbps_fraction_of_limit, 0.2 * 1.5);
    EXPECT_DOUBLE_EQ(*m.roofline->gflops_fraction_of_limit, 0.3 * 1.5);
    // Achieved GB/s is bytes per iteration over the merged median, as scenarios.cpp computes it.
    EXPECT_DOUBLE_EQ(m.roofline->achieved_gbps, m.roofline->bytes_per_iteration / med / 1e9);
    // Memory: the max; load time: the median of the rounds'; worker: peak RSS the max.
    CellResult r3 = r2;
    r3.memory->peak_rss_bytes = 9000;
    r3.memory->plugin.peak = 50;
    r3.load_s = 0.9;
    r3.worker->peak_rss_bytes = 7000;
    r3.worker->peak_anon_bytes = 3000;
    CellResult r1b = r1;
    r1b.worker->peak_rss_bytes = 8000;
    const CellResult m3 = merge_rounds(planned, {r1b, r3, r2});
    EXPECT_EQ(m3.memory->peak_rss_bytes, 9000u);
    EXPECT_EQ(m3.memory->plugin.peak, 120u);
    EXPECT_DOUBLE_EQ(*m3.load_s, 0.5);
    EXPECT_EQ(m3.worker->peak_rss_bytes, 8000u);
    EXPECT_EQ(m3.worker->peak_anon_bytes, 4000u);
    EXPECT_EQ(m3.interleave_rounds, 3);
}

TEST(InterleaveMerge, DecodeAndBatchThroughputFollowTheMergedSequenceMedian) {
    for (const Scenario sc : {Scenario::decode, Scenario::batch}) {
        const CellSpec planned = spec_of(sc);
        const int d = planned.params.decode_tokens, batch = sc == Scenario::batch ? planned.params.batch : 1;
        std::vector<double> fast(size_t(d) * 3, 0.001), slow(size_t(d) * 2, 0.004);
        slow[0] = 0.006;  // a spread inside the round, so jitter is not 0
        const CellResult r1 = decode_round(planned, fast), r2 = decode_round(planned, slow);
        const CellResult m = merge_rounds(planned, {r1, r2});
        const Stats& seq = m.timings.at("sequence");
        const char* per_token = sc == Scenario::batch ? "step" : "token";
        EXPECT_EQ(seq.n, 5);
        EXPECT_EQ(m.timings.at(per_token).n, 5 * d);
        EXPECT_DOUBLE_EQ(seq.median, 0.001 * d);  // three fast sequences, two slow ones
        EXPECT_DOUBLE_EQ(m.throughput->tokens_per_s, double(batch) * d / seq.median);
        if (batch > 1) EXPECT_DOUBLE_EQ(*m.throughput->per_stream_tokens_per_s, double(d) / seq.median);
        else EXPECT_FALSE(m.throughput->per_stream_tokens_per_s);
        // Roofline of the last round (median of its sequences) rescaled to the merged median.
        const double old = r2.timings.at("sequence").median;
        EXPECT_NEAR(m.roofline->achieved_gbps, r2.roofline->achieved_gbps * old / seq.median, 1e-9);
        EXPECT_NEAR(m.roofline->achieved_gbps, 1e6 / (seq.median / d) / 1e9, 1e-9);
        EXPECT_NEAR(*m.roofline->gbps_fraction_of_limit, m.roofline->achieved_gbps / 10, 1e-12);
        // Noise of the merged sequences; jitter of the merged per-token latencies.
        EXPECT_DOUBLE_EQ(m.noise->cv, seq.cv);
        EXPECT_EQ(m.noise->repetitions, 5);
        ASSERT_TRUE(m.noise->jitter_cv);
        EXPECT_DOUBLE_EQ(*m.noise->jitter_cv, m.timings.at(per_token).cv);
    }
}

TEST(InterleaveMerge, AFailingRoundMakesTheMergedCellInvalid) {
    const CellSpec planned = spec_of(Scenario::prefill);
    CellResult bad = prefill_round(planned, {1.0, 1.1});
    bad.status = CellStatus::invalid;
    bad.status_detail = "invalid: the output produced while timed differs from the golden: round 2";
    bad.verification = verdict(Verdict::fail, "prefill.last_rep: rel L2 too high");
    const CellResult good = prefill_round(planned, {1.0, 1.1});
    for (const auto& rounds : {std::vector<CellResult>{good, bad, good}, std::vector<CellResult>{bad, good}}) {
        const CellResult m = merge_rounds(planned, rounds);
        EXPECT_EQ(m.status, CellStatus::invalid);
        EXPECT_EQ(m.status_detail, bad.status_detail);
        ASSERT_TRUE(m.verification);
        EXPECT_EQ(m.verification->verdict, Verdict::fail);
        EXPECT_EQ(m.verification->failures, bad.verification->failures);
    }
    // A round that failed to run wins over an invalid one after it; the first failing one speaks.
    CellResult crashed = bare_result(planned, CellStatus::crashed, "crashed(SIGSEGV)");
    const CellResult m = merge_rounds(planned, {good, crashed, bad});
    EXPECT_EQ(m.status, CellStatus::crashed);
    EXPECT_EQ(m.status_detail, "crashed(SIGSEGV)");
    EXPECT_EQ(m.timings.at("forward").n, 4);  // the rounds that measured something
    // Every round PASSed: PASS, the last round's judgement.
    CellResult last = good;
    last.verification = verdict(Verdict::pass, "");
    last.verification->detail = {{"round", "last"}};
    const CellResult ok = merge_rounds(planned, {good, last});
    EXPECT_EQ(ok.status, CellStatus::ok);
    EXPECT_EQ(ok.verification->verdict, Verdict::pass);
    EXPECT_EQ(ok.verification->detail, (nlohmann::json{{"round", "last"}}));
}

TEST(InterleaveMerge, ContentionIsTheWallWeightedMeanAndAnyContendedRoundCounts) {
    const CellSpec planned = spec_of(Scenario::prefill);
    CellResult r1 = prefill_round(planned, {1.0}), r2 = prefill_round(planned, {1.0});
    r1.contention = contention(0.0, 0.0, 3.0);
    r2.contention = contention(0.4, 0.2, 1.0);
    CellResult m = merge_rounds(planned, {r1, r2});
    ASSERT_TRUE(m.contention);
    EXPECT_DOUBLE_EQ(*m.contention->foreign_cpu_cores, 0.1);  // (0 × 3 + 0.4 × 1) / 4
    EXPECT_DOUBLE_EQ(*m.contention->steal_cores, 0.05);
    EXPECT_DOUBLE_EQ(m.contention->wall_s, 4.0);
    EXPECT_DOUBLE_EQ(m.contention->resolution_cores, 0.01);
    EXPECT_FALSE(m.contention->contended);  // 0.1 + 0.05 − 0.01 is below the 0.15 bound

    r2.contention->contended = true;  // one round's own verdict is enough
    EXPECT_TRUE(merge_rounds(planned, {r1, r2}).contention->contended);

    // No round flagged, but the mean is above the bound: 0.2 − 0.01 > 0.15.
    r1.contention = contention(0.3, 0.0, 1.0);
    r2.contention = contention(0.1, 0.0, 1.0);
    m = merge_rounds(planned, {r1, r2});
    EXPECT_DOUBLE_EQ(*m.contention->foreign_cpu_cores, 0.2);
    EXPECT_TRUE(m.contention->contended);

    // A round whose /proc/stat was unreadable (null) is left out of the mean, not counted as 0.
    r1.contention = contention(0.0, 0.0, 1.0);
    r1.contention->foreign_cpu_cores.reset();
    r1.contention->steal_cores.reset();
    r2.contention = contention(0.05, 0.01, 2.0);
    m = merge_rounds(planned, {r1, r2});
    EXPECT_DOUBLE_EQ(*m.contention->foreign_cpu_cores, 0.05);
    EXPECT_DOUBLE_EQ(*m.contention->steal_cores, 0.01);
    EXPECT_DOUBLE_EQ(m.contention->wall_s, 3.0);
    EXPECT_FALSE(m.contention->contended);
    r2.contention->foreign_cpu_cores.reset();
    EXPECT_FALSE(merge_rounds(planned, {r1, r2}).contention->foreign_cpu_cores);
}

TEST(InterleaveMerge, MergedRecordRoundTripsAndValidates) {
    const CellSpec planned = spec_of(Scenario::decode);
    CellResult m = merge_rounds(planned, {decode_round(planned, std::vector<double>(16, 0.001)),
                                          decode_round(planned, std::vector<double>(16, 0.002))});
    m.verification.reset();  // the hand-made judgements are not the judge's (the e2e test has real ones)
    const nlohmann::json j = m;
    EXPECT_EQ(j["interleave"], (nlohmann::json{{"rounds", 2}}));
    EXPECT_EQ(cell_result_from_json(j).interleave_rounds, 2);
    EXPECT_FALSE(cell_result_from_json(nlohmann::json(bare_result(planned, CellStatus::ok, ""))).interleave_rounds);
    nlohmann::json bad = j;
    bad["interleave"]["rounds"] = 0;
    EXPECT_FALSE(cell_result_from_json(bad).interleave_rounds);  // untrusted: no round count
    nlohmann::json schema = load_results_schema();
    nlohmann::json cell_schema = schema["$defs"]["cell"];
    cell_schema["$defs"] = schema["$defs"];
    std::string violations;
    for (const auto& v : validate_json(j, cell_schema)) violations += v + "\n";
    EXPECT_TRUE(violations.empty()) << violations;
    EXPECT_FALSE(validate_json(bad, cell_schema).empty());
}

TEST(InterleaveMerge, TheReportSaysWhichCellsWereInterleaved) {
    const CellSpec planned = spec_of(Scenario::prefill);
    CellSpec other = spec_of(Scenario::decode);
    const CellResult m = merge_rounds(planned, {prefill_round(planned, {1.0}), prefill_round(planned, {1.1})});
    CellResult plain = decode_round(other, std::vector<double>(16, 0.001));
    const RunDocument doc = make_run_document(nlohmann::json::object(), nlohmann::json::object(),
                                              nlohmann::json::object(), {m, plain});
    std::ostringstream out;
    write_report(doc, ReportFormat::table, out);
    EXPECT_NE(out.str().find("interleaved (measured in rounds"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find(m.id + " (2 rounds)"), std::string::npos) << out.str();
    EXPECT_EQ(out.str().find(plain.id + " ("), std::string::npos) << out.str();
}

TEST(InterleaveMerge, NoRoundsIsAnError) {
    EXPECT_THROW(merge_rounds(spec_of(Scenario::decode), {}), std::invalid_argument);
}
