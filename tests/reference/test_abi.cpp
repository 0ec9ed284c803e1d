// The golden plugin at its ABI boundary: identity, options, bad arguments (a status and one
// line, never a crash), the state layout of backend.h, and honest memory accounting.
#include <unistd.h>

#include <cstring>
#include <regex>

#include <gtest/gtest.h>

#include "golden_util.hpp"
#include "presets.hpp"
#include "synth.hpp"
#include "tokens.hpp"

namespace rwkvb::test {
namespace {

const rwkvb_backend& table() {
    static auto plugin = Plugin::load(reference_plugin_path());
    return plugin->table();
}

TEST(ReferenceAbi, IdentityAndDevice) {
    const auto& t = table();
    EXPECT_STREQ(t.name, "reference");
    // "1.0.0+src.<12 hex>": the hash of its sources (checked against them by
    // reference_version_matches_sources), so golden caches never outlive a code change.
    EXPECT_TRUE(std::regex_match(t.version, std::regex(R"(1\.0\.0\+src\.[0-9a-f]{12})"))) << t.version;
    int32_t n = 0;
    ASSERT_EQ(t.device_count(&n), RWKVB_OK);
    ASSERT_EQ(n, 1);
    rwkvb_device_info info{};
    ASSERT_EQ(t.device_info(0, &info), RWKVB_OK);
    EXPECT_STREQ(info.name, "golden float64 reference (CPU)");
    EXPECT_EQ(info.logits_dtype, RWKVB_F64);
    EXPECT_EQ(info.compute_dtypes, RWKVB_DTYPE_BIT(RWKVB_F64));
    // Only what it computes with: f16/bf16 would mislabel float64 arithmetic (checkpoints stored
    // in f16/bf16 are still read, exactly: see HalfCheckpointsAreReadExactly).
    EXPECT_EQ(info.weight_dtypes, RWKVB_DTYPE_BIT(RWKVB_F32) | RWKVB_DTYPE_BIT(RWKVB_F64));
    EXPECT_EQ(t.device_info(1, &info), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(t.last_error(nullptr)).find("device 1"), std::string::npos);
}

TEST(ReferenceAbi, BadOptionsAndArgumentsGiveStatusAndOneLine) {
    const auto& t = table();
    rwkvb_context* ctx = nullptr;
    EXPECT_EQ(t.create(0, "threads=abc", &ctx), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(ctx, nullptr);
    EXPECT_NE(std::string(t.last_error(nullptr)).find("threads"), std::string::npos);
    ASSERT_EQ(t.create(0, "foo=bar,threads=2", &ctx), RWKVB_OK);  // unknown keys ignored

    rwkvb_state* st = nullptr;
    EXPECT_EQ(t.state_new(ctx, 1, &st), RWKVB_ERR_INVALID_ARGUMENT);  // no model yet
    EXPECT_NE(std::string(t.last_error(ctx)).find("no model"), std::string::npos);

    const auto& c = fixture_case("rwkv7-tiny");
    const auto file = SafetensorsFile::open(c.model);
    const auto cfg = detect_config(file);
    const std::vector<rwkvb_tensor> ts = abi_tensors(file.tensors());
    for (int32_t d : {RWKVB_I8, RWKVB_F16, RWKVB_BF16}) {
        EXPECT_EQ(t.load(ctx, &cfg, ts.data(), ts.size(), d), RWKVB_ERR_UNSUPPORTED) << d;
        EXPECT_NE(std::string(t.last_error(ctx)).find("offers f32 and f64"), std::string::npos) << t.last_error(ctx);
    }
    // a missing tensor is named
    std::vector<rwkvb_tensor> missing;
    for (const auto& a : ts)
        if (std::strcmp(a.name, "blocks.1.att.k_k") != 0) missing.push_back(a);
    EXPECT_EQ(t.load(ctx, &cfg, missing.data(), missing.size(), RWKVB_F32), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(t.last_error(ctx)).find("blocks.1.att.k_k"), std::string::npos);
    // block 0's v0/v1/v2 are optional (never used)
    std::vector<rwkvb_tensor> no_v0;
    for (const auto& a : ts) {
        const std::string nm = a.name;
        if (nm != "blocks.0.att.v0" && nm != "blocks.0.att.v1" && nm != "blocks.0.att.v2") no_v0.push_back(a);
    }
    ASSERT_EQ(no_v0.size() + 3, ts.size());
    EXPECT_EQ(t.load(ctx, &cfg, no_v0.data(), no_v0.size(), RWKVB_F32), RWKVB_OK) << t.last_error(ctx);
    ASSERT_EQ(t.load(ctx, &cfg, ts.data(), ts.size(), RWKVB_F64), RWKVB_OK);

    ASSERT_EQ(t.state_new(ctx, 2, &st), RWKVB_OK);
    std::vector<double> logits(2 * cfg.vocab_size);
    const int32_t bad[2] = {0, cfg.vocab_size};
    EXPECT_EQ(t.forward(ctx, st, bad, 1, 2, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(t.last_error(ctx)).find("vocabulary"), std::string::npos);
    const int32_t ok[2] = {0, 1};
    EXPECT_EQ(t.forward(ctx, st, ok, 1, 1, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);  // batch
    EXPECT_EQ(t.forward(ctx, st, ok, 0, 2, logits.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ctx, st, ok, 1, 2, nullptr, RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ctx, st, ok, 1, 2, logits.data(), 7), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ctx, st, ok, 1, 2, logits.data(), RWKVB_LOGITS_LAST), RWKVB_OK);
    EXPECT_STREQ(t.last_error(ctx), "");
    size_t n = 0;
    EXPECT_EQ(t.state_export(ctx, st, 2, nullptr, &n), RWKVB_ERR_INVALID_ARGUMENT);
    t.state_free(ctx, st);
    t.destroy(ctx);
}

// A checkpoint stored in f16/bf16 loads at weight dtype f32 and is read exactly: its logits are
// bit-identical to those of an f32 checkpoint holding the same (widened) values.
TEST(ReferenceAbi, HalfCheckpointsAreReadExactly) {
    const Preset* p = find_preset("rwkv6-tiny");  // LoRA (row_times) and projections (dot)
    ASSERT_NE(p, nullptr);
    const fs::path dir = fs::temp_directory_path() / ("rwkvb_ref_half_" + std::to_string(getpid()));
    fs::create_directories(dir);
    for (DType stored : {DType::F16, DType::BF16}) {
        SCOPED_TRACE(std::string(dtype_name(stored)));
        const fs::path half = dir / "half.safetensors", wide = dir / "wide.safetensors";
        write_synthetic_model(p->config, 5, stored, half, p->name);
        {
            const auto f = SafetensorsFile::open(half);
            SafetensorsWriter w;
            for (const TensorView& t : f.tensors())
                w.add(t.name, DType::F32, t.shape, [&t](std::span<std::byte> out) {
                    for (size_t i = 0; i < out.size() / 4; ++i) {
                        const float v = float(load_as_double(t.dtype, t.data, i));
                        std::memcpy(out.data() + 4 * i, &v, 4);
                    }
                });
            w.write(wide);
        }
        Golden a(half), b(wide);
        ASSERT_EQ(a.file->tensors().front().dtype, stored);
        const auto tokens = synthetic_tokens(3, 16, a.V());
        const auto la = run_chunked(a, tokens, 0), lb = run_chunked(b, tokens, 0);
        EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(double)));
    }
    fs::remove_all(dir);
}

TEST(ReferenceAbi, StateLayoutAndMemoryAccounting) {
    const auto& c = fixture_case("rwkv4-tiny");
    Golden g(c.model);
    const auto& t = g.session->plugin().table();
    const auto& cfg = g.cfg;
    rwkvb_state* st = g.session->new_state(1);
    size_t n = 0;
    ASSERT_EQ(t.state_export(g.session->context(), st, 0, nullptr, &n), RWKVB_OK);
    const size_t per_layer = 2 * cfg.n_embd + 3 * cfg.dim_att;  // [att_x, aa, bb, pp, ffn_x]
    ASSERT_EQ(n, per_layer * cfg.n_layer);
    std::vector<float> s(n);
    ASSERT_EQ(t.state_export(g.session->context(), st, 0, s.data(), &n), RWKVB_OK);
    for (int l = 0; l < cfg.n_layer; ++l)
        for (int i = 0; i < cfg.dim_att; ++i) {
            EXPECT_EQ(s[l * per_layer + cfg.n_embd + i], 0.0f);                      // aa
            EXPECT_EQ(s[l * per_layer + cfg.n_embd + 2 * cfg.dim_att + i], -1e30f);  // pp
        }
    const rwkvb_memory m = g.session->memory_usage();
    EXPECT_EQ(m.state, n * sizeof(double));
    EXPECT_GT(m.weights, 0u);  // the small float64 vectors only: matrices are read in place
    EXPECT_LT(m.weights, static_cast<uint64_t>(g.file->file_size()) / 4);
    const int32_t tok = 3;
    std::vector<double> logits(g.V());
    g.session->forward(st, &tok, 1, 1, logits.data(), RWKVB_LOGITS_LAST);
    const rwkvb_memory m2 = g.session->memory_usage();
    EXPECT_GT(m2.workspace, 0u);
    EXPECT_GE(m2.peak, m2.weights + m2.state + m2.workspace);
    g.session->free_state(st);
    EXPECT_EQ(g.session->memory_usage().state, 0u);
}

}  // namespace
}  // namespace rwkvb::test
