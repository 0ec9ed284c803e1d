// Sequence mode, chunking, batching and thread count must not change the golden's answer.
#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

#include "golden_util.hpp"
#include "tokens.hpp"

namespace rwkvb::test {
namespace {

double max_rel(const std::vector<double>& a, const std::vector<double>& b, int V) {
    return max_rel_l2(a.data(), b.data(), int64_t(a.size() / size_t(V)), V);
}

std::vector<float> export_state(Golden& g, rwkvb_state* st, int stream) {
    const auto& table = g.session->plugin().table();
    size_t n = 0;
    EXPECT_EQ(table.state_export(g.session->context(), st, stream, nullptr, &n), RWKVB_OK);
    std::vector<float> out(n);
    EXPECT_EQ(table.state_export(g.session->context(), st, stream, out.data(), &n), RWKVB_OK);
    return out;
}

TEST(ReferenceModes, SequenceAndChunksEqualSequentialOnEveryFixture) {
    double worst = 0;
    for (const auto& c : fixture_cases()) {
        SCOPED_TRACE(c.name);
        Golden g(c.model);
        const auto tokens = read_tokens(c.golden, g.V());
        const auto seq = run_sequential(g, tokens);
        for (int chunk : {0, 1, 7, 64}) {
            const double e = max_rel(run_chunked(g, tokens, chunk), seq, g.V());
            EXPECT_LE(e, 1e-12) << "chunk " << chunk;
            worst = std::max(worst, e);
        }
    }
    std::printf("  max rel L2, sequence/chunked vs sequential over all fixtures: %.3e\n", worst);
}

TEST(ReferenceModes, FinalStateOfOneCallEqualsSequential) {
    for (const auto& c : fixture_cases()) {
        if (c.name.find("tiny") == std::string::npos) continue;
        SCOPED_TRACE(c.name);
        Golden g(c.model);
        const auto tokens = read_tokens(c.golden, g.V());
        rwkvb_state* a = g.session->new_state(1);
        rwkvb_state* b = g.session->new_state(1);
        std::vector<double> logits(g.V());
        for (size_t t = 0; t < tokens.size(); ++t) g.session->forward(a, &tokens[t], 1, 1, logits.data(), RWKVB_LOGITS_LAST);
        g.session->forward(b, tokens.data(), static_cast<int>(tokens.size()), 1, nullptr, RWKVB_LOGITS_NONE);
        const auto sa = export_state(g, a, 0), sb = export_state(g, b, 0);
        ASSERT_EQ(sa.size(), sb.size());
        EXPECT_EQ(sa, sb);  // bit-identical by construction: every row runs the same code
        g.session->free_state(a);
        g.session->free_state(b);
    }
}

TEST(ReferenceModes, BatchOfThreeEqualsThreeSingleRuns) {
    for (const auto& c : fixture_cases()) {
        if (c.name.find("small") == std::string::npos) continue;
        SCOPED_TRACE(c.name);
        Golden g(c.model);
        const int V = g.V(), T = 40, B = 3;
        std::vector<std::vector<int32_t>> streams;
        for (int b = 0; b < B; ++b) streams.push_back(synthetic_tokens(100, uint64_t(b), T, V));
        std::vector<int32_t> flat;  // [batch][n_tokens]
        for (const auto& s : streams) flat.insert(flat.end(), s.begin(), s.end());

        // one sequence call over all three streams, logits for every row
        std::vector<double> all(static_cast<size_t>(B) * T * V);
        rwkvb_state* st = g.session->new_state(B);
        g.session->forward(st, flat.data(), T, B, all.data(), RWKVB_LOGITS_ALL);
        // and step by step, three streams together, LAST
        rwkvb_state* st2 = g.session->new_state(B);
        std::vector<double> step(static_cast<size_t>(B) * V), stepwise(static_cast<size_t>(B) * T * V);
        for (int t = 0; t < T; ++t) {
            const int32_t tok[3] = {streams[0][t], streams[1][t], streams[2][t]};
            g.session->forward(st2, tok, 1, B, step.data(), RWKVB_LOGITS_LAST);
            for (int b = 0; b < B; ++b)
                std::memcpy(&stepwise[(static_cast<size_t>(b) * T + t) * V], &step[static_cast<size_t>(b) * V], V * sizeof(double));
        }
        for (int b = 0; b < B; ++b) {
            const auto single = run_sequential(g, streams[b]);
            const std::vector<double> batched(all.begin() + static_cast<size_t>(b) * T * V,
                                              all.begin() + static_cast<size_t>(b + 1) * T * V);
            const std::vector<double> batched_steps(stepwise.begin() + static_cast<size_t>(b) * T * V,
                                                    stepwise.begin() + static_cast<size_t>(b + 1) * T * V);
            EXPECT_LE(max_rel(batched, single, V), 1e-12) << "stream " << b;
            EXPECT_EQ(batched_steps, single) << "stream " << b << " (batched decode must be bit-identical)";
        }
        g.session->free_state(st);
        g.session->free_state(st2);
    }
}

TEST(ReferenceModes, ThreadCountDoesNotChangeAnyBit) {
    for (const auto& c : fixture_cases()) {
        if (c.name.find("small") == std::string::npos) continue;
        SCOPED_TRACE(c.name);
        const auto tokens = read_tokens(c.golden, c.vocab_size);
        const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 64);
        std::vector<std::vector<double>> seq, chunked;
        for (int threads : {1, 2, 3}) {
            Golden g(c.model, threads);
            seq.push_back(run_sequential(g, prompt));
            chunked.push_back(run_chunked(g, prompt, 0));
        }
        for (size_t i = 1; i < seq.size(); ++i) {
            EXPECT_EQ(0, std::memcmp(seq[0].data(), seq[i].data(), seq[0].size() * sizeof(double))) << "sequential";
            EXPECT_EQ(0, std::memcmp(chunked[0].data(), chunked[i].data(), chunked[0].size() * sizeof(double))) << "sequence";
        }
    }
}

}  // namespace
}  // namespace rwkvb::test
