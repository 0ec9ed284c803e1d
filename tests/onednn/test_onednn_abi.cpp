// The ABI contract of the oneDNN plugin: device description, error statuses with one-line
// messages for bad input, state export layout and honest memory accounting.
#include "fixture_util.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace onednn_test;

namespace {

const rwkvb_backend& be() { return plugin(); }

TEST(OnednnAbi, DescribesTheCpu) {
    const auto& b = be();
    EXPECT_STREQ(b.name, "onednn");
    int32_t n = -1;
    ASSERT_EQ(b.device_count(&n), RWKVB_OK);
    ASSERT_EQ(n, 1);
    rwkvb_device_info info{};
    ASSERT_EQ(b.device_info(0, &info), RWKVB_OK);
    EXPECT_GT(std::strlen(info.name), 0u);
    EXPECT_NE(std::string(info.driver_version).find("oneDNN 2."), std::string::npos) << info.driver_version;
    EXPECT_GE(info.compute_units, 1);
    EXPECT_EQ(info.logits_dtype, RWKVB_F32);
    EXPECT_EQ(info.compute_dtypes, RWKVB_DTYPE_BIT(RWKVB_F32));
    for (int d : {RWKVB_F32, RWKVB_F16, RWKVB_BF16, RWKVB_I8}) EXPECT_TRUE(info.weight_dtypes & RWKVB_DTYPE_BIT(d));
    EXPECT_EQ(b.device_info(1, &info), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_GT(std::strlen(b.last_error(nullptr)), 0u);
}

TEST(OnednnAbi, RejectsBadInputWithAMessage) {
    const auto& b = be();
    Fixture f = open_fixture("rwkv7-tiny");
    rwkvb_context* ctx = nullptr;
    EXPECT_EQ(b.create(0, "threads=abc", &ctx), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(b.last_error(nullptr)).find("threads"), std::string::npos);
    ASSERT_EQ(b.create(0, "threads=1,unknown=ignored", &ctx), RWKVB_OK);

    EXPECT_EQ(b.load(ctx, &f.config, f.tensors.data(), f.tensors.size(), RWKVB_U8), RWKVB_ERR_UNSUPPORTED);
    // A missing tensor and a mis-shaped one are named.
    auto missing = f.tensors;
    missing.erase(missing.begin() + 3);
    EXPECT_EQ(b.load(ctx, &f.config, missing.data(), missing.size(), RWKVB_F32), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(b.last_error(ctx)).find(f.tensors[3].name), std::string::npos) << b.last_error(ctx);
    auto bad = f.tensors;
    for (auto& t : bad)
        if (std::string(t.name) == "head.weight") t.shape[0] -= 1;
    EXPECT_EQ(b.load(ctx, &f.config, bad.data(), bad.size(), RWKVB_F32), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(b.last_error(ctx)).find("head.weight"), std::string::npos) << b.last_error(ctx);
    rwkvb_model_config cfg = f.config;
    cfg.version = 8;
    EXPECT_EQ(b.load(ctx, &cfg, f.tensors.data(), f.tensors.size(), RWKVB_F32), RWKVB_ERR_UNSUPPORTED);

    rwkvb_state* st = nullptr;
    EXPECT_EQ(b.state_new(ctx, 1, &st), RWKVB_ERR_INVALID_ARGUMENT);  // nothing loaded yet
    ASSERT_EQ(b.load(ctx, &f.config, f.tensors.data(), f.tensors.size(), RWKVB_F32), RWKVB_OK) << b.last_error(ctx);
    ASSERT_EQ(b.state_new(ctx, 2, &st), RWKVB_OK);
    std::vector<float> logits(size_t(2 * f.V));
    int32_t toks[2] = {1, int32_t(f.V)};  // the second is outside the vocabulary
    EXPECT_EQ(b.forward(ctx, st, toks, 1, 2, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(b.last_error(ctx)).find("vocabulary"), std::string::npos);
    toks[1] = 2;
    EXPECT_EQ(b.forward(ctx, st, toks, 1, 1, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b.forward(ctx, st, toks, 0, 2, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b.forward(ctx, st, toks, 1, 2, nullptr, RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(b.forward(ctx, st, toks, 1, 2, nullptr, RWKVB_LOGITS_NONE), RWKVB_OK);
    b.state_free(ctx, st);
    b.destroy(ctx);
}

// profile=1 prints a table of phases when the context goes; the logits are the same as without it.
TEST(OnednnAbi, ProfileOptionPrintsWhereTimeWent) {
    const auto& b = be();
    Fixture f = open_fixture("rwkv7-tiny");
    rwkvb_context* ctx = nullptr;
    EXPECT_EQ(b.create(0, "profile=yes", &ctx), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(b.last_error(nullptr)).find("profile"), std::string::npos);
    std::vector<float> plain(size_t(f.V)), profiled(size_t(f.V));
    for (const char* opt : {"threads=2", "threads=2,profile=1"}) {
        testing::internal::CaptureStderr();
        ASSERT_EQ(b.create(0, opt, &ctx), RWKVB_OK);
        ASSERT_EQ(b.load(ctx, &f.config, f.tensors.data(), f.tensors.size(), RWKVB_F32), RWKVB_OK) << b.last_error(ctx);
        rwkvb_state* st = nullptr;
        ASSERT_EQ(b.state_new(ctx, 1, &st), RWKVB_OK);
        float* out = std::strstr(opt, "profile") ? profiled.data() : plain.data();
        for (int t = 0; t < 3; ++t) ASSERT_EQ(b.forward(ctx, st, &f.tokens[size_t(t)], 1, 1, out, RWKVB_LOGITS_LAST), RWKVB_OK);
        b.state_free(ctx, st);
        b.destroy(ctx);
        const std::string err = testing::internal::GetCapturedStderr();
        if (!std::strstr(opt, "profile")) {
            EXPECT_EQ(err.find("onednn profile"), std::string::npos) << err;
            continue;
        }
        for (const char* phase : {"onednn profile: phase", "matmul ", "wkv v7", "layer norm", "group norm", "elementwise and other"})
            EXPECT_NE(err.find(phase), std::string::npos) << phase << " missing from:\n" << err;
    }
    EXPECT_EQ(plain, profiled);
}

TEST(OnednnAbi, StateExportAndMemory) {
    const auto& b = be();
    for (const char* name : {"rwkv4-tiny", "rwkv7-tiny"}) {
        Fixture f = open_fixture(name);
        Ctx c(f, RWKVB_F32);
        rwkvb_state* st = nullptr;
        c.check(b.state_new(c.ctx, 2, &st), "state_new");
        const auto& cf = f.config;
        size_t n = 0;
        ASSERT_EQ(b.state_export(c.ctx, st, 1, nullptr, &n), RWKVB_OK);
        const size_t wkv = cf.version == 4 ? 3 * size_t(cf.dim_att) : size_t(cf.n_head) * cf.head_size * cf.head_size;
        EXPECT_EQ(n, size_t(cf.n_layer) * (2 * size_t(cf.n_embd) + wkv));
        EXPECT_EQ(b.state_export(c.ctx, st, 2, nullptr, &n), RWKVB_ERR_INVALID_ARGUMENT);
        // After one token in stream 0 only stream 0's att_x holds the LN output; stream 1 changes too
        // (own token) but the two differ.
        int32_t toks[2] = {5, 9};
        std::vector<float> logits(size_t(2 * f.V));
        c.check(b.forward(c.ctx, st, toks, 1, 2, logits.data(), RWKVB_LOGITS_LAST), "forward");
        std::vector<float> s0(n), s1(n);
        ASSERT_EQ(b.state_export(c.ctx, st, 0, s0.data(), &n), RWKVB_OK);
        ASSERT_EQ(b.state_export(c.ctx, st, 1, s1.data(), &n), RWKVB_OK);
        EXPECT_NE(s0, s1);
        if (cf.version == 4) {
            EXPECT_GT(s0[size_t(cf.n_embd + 2 * cf.dim_att)], -1e29f);  // pp moved off -1e30
        }
        ASSERT_EQ(b.state_reset(c.ctx, st), RWKVB_OK);
        ASSERT_EQ(b.state_export(c.ctx, st, 0, s0.data(), &n), RWKVB_OK);
        EXPECT_EQ(s0[0], 0.f);

        rwkvb_memory mem{};
        ASSERT_EQ(b.memory_usage(c.ctx, &mem), RWKVB_OK);
        uint64_t file_bytes = 0;
        for (const auto& t : f.tensors) file_bytes += t.nbytes;
        // f32 weights: the checkpoint's bytes, give or take block 0's unused v7 LoRA.
        EXPECT_GT(mem.weights, file_bytes * 9 / 10);
        EXPECT_LE(mem.weights, file_bytes);
        EXPECT_EQ(mem.state, 2 * n * sizeof(float));
        EXPECT_GE(mem.peak, mem.weights + mem.state);
        b.state_free(c.ctx, st);

        // int8 weights hold about a quarter of the matrix bytes.
        Ctx q(f, RWKVB_I8);
        rwkvb_memory qm{};
        ASSERT_EQ(b.memory_usage(q.ctx, &qm), RWKVB_OK);
        EXPECT_LT(qm.weights, mem.weights * 6 / 10);
    }
}

}  // namespace
