// Parity of the OpenCL backend against the official float64 logits of every fixture: one token
// at a time, whole sequences, sequences in uneven pieces, and batched streams.
#include "ocl_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace rwkvb::ocltest {
namespace {

constexpr double kF32Bound = 2e-5;  // max relative L2 per step vs float64 (issue target)

struct Run {
    std::unique_ptr<Session> session;
    rwkvb_state* state = nullptr;
    ~Run() {
        if (state) session->free_state(state);
    }
};

std::unique_ptr<Run> open(const GoldenCase& f, DType wdtype = DType::F32, int batch = 1) {
    auto r = std::make_unique<Run>();
    r->session = std::make_unique<Session>(opencl_plugin(), 0, test_options());
    r->session->load(f.config, f.model->tensors(), wdtype);
    r->state = r->session->new_state(batch);
    return r;
}

// Compares rows [t0, t0+n) of the fixture with `out`; returns the max rel L2.
double check_rows(const GoldenCase& f, const float* out, int t0, int n, double bound, const std::string& what) {
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        const int t = t0 + i;
        const float* b = out + static_cast<size_t>(i) * f.V;
        const double* g = &f.logits[static_cast<size_t>(t) * f.V];
        const double e = rel_l2(b, g, f.V);
        worst = std::max(worst, e);
        EXPECT_LE(e, bound) << f.name() << " " << what << " step " << t;
        EXPECT_EQ(argmax(b, f.V), argmax(g, f.V)) << f.name() << " " << what << " step " << t;
    }
    return worst;
}

class OpenclParity : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenclParity, SequentialMatchesGolden) {
    const GoldenCase f = load_case(GetParam());
    auto r = open(f);
    std::vector<float> out(f.V);
    double worst = 0;
    for (int t = 0; t < f.T; ++t) {
        r->session->forward(r->state, &f.tokens[t], 1, 1, out.data(), RWKVB_LOGITS_LAST);
        worst = std::max(worst, check_rows(f, out.data(), t, 1, kF32Bound, "sequential"));
    }
    RecordProperty("max_rel_l2", std::to_string(worst));
    std::printf("%s sequential max rel L2 %.3g\n", f.name().c_str(), worst);
}

TEST_P(OpenclParity, SequenceMatchesGolden) {
    const GoldenCase f = load_case(GetParam());
    auto r = open(f);
    std::vector<float> out(static_cast<size_t>(f.T) * f.V);
    r->session->forward(r->state, f.tokens.data(), f.T, 1, out.data(), RWKVB_LOGITS_ALL);
    const double worst = check_rows(f, out.data(), 0, f.T, kF32Bound, "sequence");
    std::printf("%s sequence max rel L2 %.3g\n", f.name().c_str(), worst);
}

// Uneven pieces carrying the state, with LAST logits: each piece's last row must match.
TEST_P(OpenclParity, PiecesCarryState) {
    const GoldenCase f = load_case(GetParam());
    auto r = open(f);
    std::vector<float> out(f.V);
    const int sizes[] = {16, 7, 1, 33, 2};
    int t = 0;
    for (int i = 0; t < f.T; ++i) {
        const int n = std::min(sizes[i % 5], f.T - t);
        r->session->forward(r->state, &f.tokens[t], n, 1, out.data(), RWKVB_LOGITS_LAST);
        check_rows(f, out.data(), t + n - 1, 1, kF32Bound, "pieces");
        t += n;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OpenclParity, ::testing::ValuesIn(test::fixture_names_for_registration()),
                         [](const auto& info) { return test::test_name(info.param); });

// Batch 3: stream 1 is the fixture; streams 0 and 2 run other tokens and must not disturb it,
// and must equal their own batch-1 runs. Decode and sequence mode, every version's tiny case.
class OpenclBatch : public ::testing::TestWithParam<std::string> {};

TEST_P(OpenclBatch, StreamsAreIndependent) {
    const GoldenCase f = load_case(GetParam());
    const int T = std::min(f.T, 24), B = 3, V = f.V;
    std::vector<int32_t> toks(static_cast<size_t>(B) * T);
    for (int t = 0; t < T; ++t) {
        toks[t] = f.tokens[T - 1 - t];
        toks[T + t] = f.tokens[t];
        toks[2 * T + t] = (f.tokens[t] * 7 + 3) % V;
    }
    auto batched = open(f, DType::F32, B);
    // First half one token at a time, second half as one sequence.
    const int half = T / 2;
    std::vector<float> step(static_cast<size_t>(B) * V), seq(static_cast<size_t>(B) * (T - half) * V);
    std::vector<float> all(static_cast<size_t>(B) * T * V);
    for (int t = 0; t < half; ++t) {
        const int32_t col[3] = {toks[t], toks[T + t], toks[2 * T + t]};
        batched->session->forward(batched->state, col, 1, B, step.data(), RWKVB_LOGITS_LAST);
        for (int b = 0; b < B; ++b)
            std::copy_n(&step[static_cast<size_t>(b) * V], V, &all[(static_cast<size_t>(b) * T + t) * V]);
    }
    std::vector<int32_t> rest(static_cast<size_t>(B) * (T - half));
    for (int b = 0; b < B; ++b)
        std::copy_n(&toks[static_cast<size_t>(b) * T + half], T - half, &rest[static_cast<size_t>(b) * (T - half)]);
    batched->session->forward(batched->state, rest.data(), T - half, B, seq.data(), RWKVB_LOGITS_ALL);
    for (int b = 0; b < B; ++b)
        std::copy_n(&seq[static_cast<size_t>(b) * (T - half) * V], static_cast<size_t>(T - half) * V,
                    &all[(static_cast<size_t>(b) * T + half) * V]);

    check_rows(f, &all[static_cast<size_t>(T) * V], 0, T, kF32Bound, "batched stream 1");
    for (int b : {0, 2}) {
        auto single = open(f);
        std::vector<float> ref(static_cast<size_t>(T) * V);
        single->session->forward(single->state, &toks[static_cast<size_t>(b) * T], T, 1, ref.data(), RWKVB_LOGITS_ALL);
        for (int t = 0; t < T; ++t)
            EXPECT_LE(rel_l2(&all[(static_cast<size_t>(b) * T + t) * V], &ref[static_cast<size_t>(t) * V], V), 1e-5)
                << f.name() << " stream " << b << " step " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Tiny, OpenclBatch, ::testing::Values("rwkv4-tiny", "rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny"),
                         [](const auto& info) { return test::test_name(info.param); });

// State export: sequential and sequence mode reach the same state; v4's pp starts at -1e30.
TEST(OpenclState, ExportAgreesBetweenModes) {
    for (const char* name : {"rwkv4-tiny", "rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny"}) {
        const GoldenCase f = load_case(name);
        auto a = open(f), b = open(f);
        const auto& t = a->session->plugin().table();
        ASSERT_NE(t.state_export, nullptr);
        size_t n = 0;
        ASSERT_EQ(t.state_export(a->session->context(), a->state, 0, nullptr, &n), RWKVB_OK);
        std::vector<float> sa(n), sb(n), fresh(n);
        ASSERT_EQ(t.state_export(a->session->context(), a->state, 0, fresh.data(), &n), RWKVB_OK);
        if (f.config.version == 4) {
            EXPECT_FLOAT_EQ(fresh[f.config.n_embd + 2 * f.config.dim_att], -1e30f) << name;
        }
        std::vector<float> out(f.V), all(static_cast<size_t>(f.T) * f.V);
        for (int i = 0; i < f.T; ++i) a->session->forward(a->state, &f.tokens[i], 1, 1, out.data(), RWKVB_LOGITS_LAST);
        b->session->forward(b->state, f.tokens.data(), f.T, 1, nullptr, RWKVB_LOGITS_NONE);
        ASSERT_EQ(t.state_export(a->session->context(), a->state, 0, sa.data(), &n), RWKVB_OK);
        ASSERT_EQ(t.state_export(b->session->context(), b->state, 0, sb.data(), &n), RWKVB_OK);
        EXPECT_LE(rel_l2(sa.data(), sb.data(), static_cast<int>(n)), 1e-5) << name;
        // Reset brings back the initial state.
        a->session->reset_state(a->state);
        ASSERT_EQ(t.state_export(a->session->context(), a->state, 0, sa.data(), &n), RWKVB_OK);
        EXPECT_EQ(sa, fresh) << name;
    }
}

// f16 weights (vload_half works on every OpenCL 1.2 device): the f16 parity class of DESIGN.md §6.
TEST(OpenclHalfWeights, WithinF16Bound) {
    for (const char* name : {"rwkv4-small", "rwkv5-small", "rwkv6-small", "rwkv7-small"}) {
        const GoldenCase f = load_case(name);
        auto r = open(f, DType::F16);
        std::vector<float> out(static_cast<size_t>(f.T) * f.V);
        r->session->forward(r->state, f.tokens.data(), f.T, 1, out.data(), RWKVB_LOGITS_ALL);
        int agree = 0;
        double worst = 0;
        for (int t = 0; t < f.T; ++t) {
            worst = std::max(worst, rel_l2(&out[static_cast<size_t>(t) * f.V], &f.logits[static_cast<size_t>(t) * f.V], f.V));
            agree += argmax(&out[static_cast<size_t>(t) * f.V], f.V) == argmax(&f.logits[static_cast<size_t>(t) * f.V], f.V);
        }
        EXPECT_LE(worst, 2e-2) << name;
        EXPECT_GE(agree, 0.99 * f.T) << name;
        EXPECT_LT(r->session->memory_usage().weights, f.model->file_size() * 0.6) << name << ": weights not halved";
        std::printf("%s f16 weights: max rel L2 %.3g, top-1 %d/%d\n", name, worst, agree, f.T);
    }
}

}  // namespace
}  // namespace rwkvb::ocltest
