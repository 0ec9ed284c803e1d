// Streams of one batch carrying the same tokens must come out bit-identical, logits and state, at
// every step: for every version and weight dtype, batch 2..8, on 2 threads, also with the cores
// kept busy. Catches work of one stream done twice or skipped (a pool race once ran stream 1's
// first WKV job twice) and kernels whose arithmetic depends on a row's place in the batch.
#include "fixture_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

using namespace onednn_test;

namespace {

const char* const kCases[] = {"rwkv4-tiny", "rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny"};
const int32_t kDtypes[] = {RWKVB_F32, RWKVB_F16, RWKVB_BF16, RWKVB_I8};

// A fixed pseudo-random token sequence over the vocabulary.
std::vector<int32_t> tokens(int n, int64_t vocab) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    uint32_t s = 12345;
    for (auto& x : t) {
        s = s * 1664525u + 1013904223u;
        x = int32_t((s >> 8) % uint32_t(vocab));
    }
    return t;
}

// Decodes `steps` tokens into `batch` streams that all get the same token, `chunk` tokens per
// call; fails at the first step where a stream's logits or exported state differ from stream 0.
void check_identical(Ctx& c, int32_t batch, int steps, int chunk, const std::string& what) {
    const auto& be = *c.be;
    const int64_t V = c.vocab;
    const auto toks = tokens(steps, V);
    rwkvb_state* st = nullptr;
    c.check(be.state_new(c.ctx, batch, &st), "state_new");
    size_t n = 0;
    c.check(be.state_export(c.ctx, st, 0, nullptr, &n), "state_export");
    std::vector<float> logits(size_t(batch) * size_t(chunk) * size_t(V)), s0(n), sb(n);
    std::vector<int32_t> in;
    for (int t0 = 0; t0 < steps; t0 += chunk) {
        const int T = std::min(chunk, steps - t0);
        in.clear();
        for (int32_t b = 0; b < batch; ++b) in.insert(in.end(), toks.begin() + t0, toks.begin() + t0 + T);
        c.check(be.forward(c.ctx, st, in.data(), T, batch, logits.data(), RWKVB_LOGITS_ALL), "forward");
        c.check(be.state_export(c.ctx, st, 0, s0.data(), &n), "state_export");
        const size_t per = size_t(T) * size_t(V);
        for (int32_t b = 1; b < batch; ++b) {
            ASSERT_EQ(std::memcmp(logits.data(), logits.data() + b * per, per * sizeof(float)), 0)
                << what << ": logits of stream " << b << " differ from stream 0 at steps " << t0 << ".." << t0 + T - 1;
            c.check(be.state_export(c.ctx, st, b, sb.data(), &n), "state_export");
            ASSERT_EQ(std::memcmp(s0.data(), sb.data(), n * sizeof(float)), 0)
                << what << ": state of stream " << b << " differs from stream 0 after step " << t0 + T - 1;
        }
    }
    be.state_free(c.ctx, st);
}

std::string label(const char* name, int32_t dtype, int32_t batch, int chunk) {
    static const char* const names[] = {"?", "f32", "f16", "bf16", "?", "int8"};
    return std::string(name) + " " + names[dtype] + " batch " + std::to_string(batch) + " chunk " + std::to_string(chunk);
}

// Decode (our kernels, the pool) and 2-token chunks of batch ≤ 4 (still ≤ 8 rows: the same path).
TEST(OnednnBatch, IdenticalStreamsStayBitIdentical) {
    for (const char* name : kCases) {
        Fixture f = open_fixture(name);
        for (int32_t dtype : kDtypes) {
            Ctx c(f, dtype, "threads=2");
            for (int32_t batch : {2, 3, 5, 8}) {
                check_identical(c, batch, 96, 1, label(name, dtype, batch, 1));
                if (batch <= 4) check_identical(c, batch, 32, 2, label(name, dtype, batch, 2));
                if (HasFatalFailure()) return;
            }
        }
    }
}

// Batch 2, longer, while two busy threads compete with the context's two: helpers are
// descheduled in the middle of claims, the case the pool must survive.
TEST(OnednnBatch, IdenticalStreamsWhileTheCoresAreBusy) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> burners;
    for (int i = 0; i < 2; ++i)
        burners.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
            }
        });
    for (const char* name : kCases) {
        Fixture f = open_fixture(name);
        for (int32_t dtype : {RWKVB_F32, RWKVB_BF16}) {
            Ctx c(f, dtype, "threads=2");
            check_identical(c, 2, 256, 1, label(name, dtype, 2, 1) + " (busy cores)");
            if (HasFatalFailure()) break;
        }
        if (HasFatalFailure()) break;
    }
    stop = true;
    for (auto& t : burners) t.join();
}

}  // namespace
