// Presets and the cost model against the numbers of RWKV.md §7 (parameters) and §8 (W_mm,
// FLOPs, bytes and state per decoded token), and against the closed formulas there.
#include "presets.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace rwkvb {
namespace {

const ModelConfig& cfg(const char* name) {
    const Preset* p = find_preset(name);
    if (!p) throw std::runtime_error(std::string("no preset ") + name);
    return p->config;
}

TEST(Presets, NamesAreUniqueAndConfigsValid) {
    std::set<std::string> names;
    for (const Preset& p : presets()) {
        EXPECT_TRUE(names.insert(p.name).second) << p.name;
        EXPECT_NO_THROW(validate_config(p.config, p.name)) << p.name;
        EXPECT_FALSE(p.family.empty());
    }
    for (const char* n : {"rwkv4-169m", "rwkv4-430m", "rwkv4-1.5b", "rwkv4-3b", "rwkv4-7b", "rwkv4-14b",
                          "rwkv4-raven-7b", "rwkv4-raven-14b", "rwkv5-0.4b", "rwkv5-1.5b", "rwkv5-3b", "rwkv5-7b",
                          "rwkv6-1.6b", "rwkv6-3b", "rwkv6-7b", "rwkv6-14b", "rwkv7-0.1b", "rwkv7-0.4b",
                          "rwkv7-1.5b", "rwkv7-2.9b", "rwkv7-7.2b", "rwkv7-13.3b", "rwkv4-tiny", "rwkv5-tiny",
                          "rwkv6-tiny", "rwkv7-tiny", "rwkv7-small"})
        EXPECT_NE(find_preset(n), nullptr) << n;
    EXPECT_EQ(find_preset("rwkv7-0.2b"), nullptr);
    EXPECT_EQ(cfg("rwkv4-raven-14b").vocab_size, 50277);
    EXPECT_EQ(cfg("rwkv4-world-7b").vocab_size, 65536);
    EXPECT_NE(find_preset("rwkv4-world-7b")->note.find("uncertain"), std::string::npos);
    EXPECT_NE(find_preset("rwkv7-13.3b")->note.find("uncertain"), std::string::npos);
}

TEST(Presets, CloseNamesForTypos) {
    auto close = close_preset_names("rwkv7-1.5");
    ASSERT_FALSE(close.empty());
    EXPECT_EQ(close.front(), "rwkv7-1.5b");
    close = close_preset_names("raven");
    ASSERT_GE(close.size(), 2u);
    EXPECT_EQ(close[0], "rwkv4-raven-7b");
}

// RWKV.md §7 "total params (computed)".
TEST(ModelCost, ParamsMatchRwkvMdSection7) {
    const std::pair<const char*, uint64_t> table[] = {
        {"rwkv4-169m", 169342464},   {"rwkv4-430m", 430397440},    {"rwkv4-1.5b", 1515106304},
        {"rwkv4-3b", 2984627200},    {"rwkv4-7b", 7392649216},     {"rwkv4-14b", 14148597760},
        {"rwkv4-raven-7b", 7392649216}, {"rwkv4-raven-14b", 14148597760},
        {"rwkv5-0.4b", 461721600},   {"rwkv5-1.5b", 1577754624},   {"rwkv5-3b", 3062999040},
        {"rwkv5-7b", 7518044160},    {"rwkv6-1.6b", 1599873024},   {"rwkv6-3b", 3099863040},
        {"rwkv6-7b", 7635746816},    {"rwkv6-14b", 14069088256},   {"rwkv7-0.1b", 191084544},
        {"rwkv7-0.4b", 450834432},   {"rwkv7-1.5b", 1527668736},   {"rwkv7-2.9b", 2948065280},
        {"rwkv7-7.2b", 7199932416},  {"rwkv7-13.3b", 13238317056},
    };
    for (const auto& [name, params] : table) EXPECT_EQ(model_cost(cfg(name)).params, params) << name;
    // v4 World sizes, rounded in the table: 192.8M / 461.6M / 1.578B / 3.063B / 7.518B.
    const std::pair<const char*, double> world[] = {{"rwkv4-world-0.1b", 192.8e6}, {"rwkv4-world-0.4b", 461.6e6},
                                                    {"rwkv4-world-1.5b", 1.578e9}, {"rwkv4-world-3b", 3.063e9},
                                                    {"rwkv4-world-7b", 7.518e9}};
    for (const auto& [name, params] : world)
        EXPECT_NEAR(double(model_cost(cfg(name)).params), params, params * 1e-3) << name;
}

// The per-block closed formulas of RWKV.md §7, for every preset (an independent computation).
TEST(ModelCost, ParamsMatchClosedFormulasForEveryPreset) {
    for (const Preset& p : presets()) {
        const ModelConfig& c = p.config;
        const uint64_t L = c.n_layer, D = c.n_embd, A = c.dim_att, F = c.dim_ffn, V = c.vocab_size, H = c.n_head;
        uint64_t block = 0;
        switch (c.version) {
            case 4: block = 4 * D * A + 2 * D * F + D * D + 9 * D + 2 * A; break;
            case 5:
                block = c.subversion == 2 ? 5 * D * A + 2 * D * F + D * D + 14 * D
                        : c.subversion == 1 ? 5 * D * A + 2 * D * F + D * D + 10 * D + 2 * A + 2 * H
                                            : 4 * D * A + 2 * D * F + D * D + 9 * D + 2 * A + 2 * H;
                break;
            case 6:
                block = 5 * D * A + 2 * D * F + D * D + 10 * D * c.lora_maa + D * c.lora_decay +
                        c.lora_decay * A + 16 * D;
                break;
            case 7:
                block = 4 * D * D + 2 * D * F +
                        2 * D * (c.lora_decay + c.lora_iclr + c.lora_value + c.lora_gate) + 19 * D;
                break;
        }
        EXPECT_EQ(model_cost(c).params, L * block + 2 * V * D + 4 * D) << p.name;
    }
}

// RWKV.md §8's W_mm formulas, for every preset.
TEST(ModelCost, MatmulWeightsMatchSection8Formulas) {
    for (const Preset& p : presets()) {
        const ModelConfig& c = p.config;
        const uint64_t L = c.n_layer, D = c.n_embd, A = c.dim_att, F = c.dim_ffn, V = c.vocab_size;
        uint64_t w = 0;
        switch (c.version) {
            case 4: w = L * (4 * D * A + 2 * D * F + D * D) + V * D; break;
            case 5:
                w = L * ((c.subversion == 0 ? 4 : 5) * D * A + 2 * D * F + D * D) + V * D;
                break;
            case 6:
                w = L * (5 * D * A + 2 * D * F + D * D + 10 * D * c.lora_maa + D * c.lora_decay +
                         c.lora_decay * A) + V * D;
                break;
            case 7:
                w = L * (4 * D * D + 2 * D * F + 2 * D * (c.lora_decay + c.lora_iclr + c.lora_gate)) +
                    (L - 1) * 2 * D * c.lora_value + V * D;
                break;
        }
        EXPECT_EQ(model_cost(c).matmul_weights, w) << p.name;
    }
}

// |got − table| within half a unit of the table's last digit plus a relative slack for the
// terms the table leaves out (LayerNorms and other elementwise work, small vectors).
void expect_table(double got, double table, double unit, double rel, const char* what, const char* name) {
    EXPECT_LE(std::fabs(got - table), 0.5 * unit + rel * table) << name << " " << what << ": " << got << " vs " << table;
}

TEST(ModelCost, WorkedValuesOfSection8) {
    struct Row {
        const char* name;
        uint64_t w_mm;
        double gflop, gflop_unit, weight_gb, weight_unit, state_mib;
    };
    const Row rows[] = {
        {"rwkv4-169m", 130625280, 0.261, 0.001, 0.261, 0.001, 0.18},
        {"rwkv4-1.5b", 1411590144, 2.824, 0.001, 2.823, 0.001, 0.94},
        {"rwkv4-14b", 13888906240, 27.78, 0.01, 27.78, 0.01, 3.91},
        {"rwkv5-7b", 7247757312, 14.55, 0.01, 14.50, 0.01, 33.0},
        {"rwkv6-1.6b", 1464860672, 2.952, 0.001, 2.930, 0.001, 12.4},
        {"rwkv6-7b", 7365197824, 14.79, 0.01, 14.73, 0.01, 33.0},
        {"rwkv6-14b", 13796638720, 27.71, 0.01, 27.59, 0.01, 62.9},
        {"rwkv7-0.1b", 140525568, 0.286, 0.001, 0.281, 0.001, 2.32},
        {"rwkv7-1.5b", 1392246784, 2.813, 0.001, 2.784, 0.001, 12.4},
        {"rwkv7-2.9b", 2778398720, 5.604, 0.001, 5.557, 0.001, 20.6},
        {"rwkv7-7.2b", 6928203776, 13.93, 0.01, 13.86, 0.01, 33.0},
    };
    for (const Row& r : rows) {
        const ModelCost m = model_cost(cfg(r.name));
        EXPECT_EQ(m.matmul_weights, r.w_mm) << r.name;
        expect_table(m.flops_per_token / 1e9, r.gflop, r.gflop_unit, 0.003, "GFLOP/token", r.name);
        expect_table(m.weight_bytes_per_token(DType::F16) / 1e9, r.weight_gb, r.weight_unit, 0.001,
                     "weight GB/token", r.name);
        EXPECT_EQ(m.weight_bytes_per_token(DType::F16), m.weight_bytes_per_token(DType::BF16));
        expect_table(4.0 * double(m.state_floats) / (1 << 20), r.state_mib, 0.1, 0.0, "state MiB", r.name);
    }
}

TEST(ModelCost, BytesPerDtypeAndState) {
    const ModelConfig& c = cfg("rwkv7-0.1b");
    const ModelCost m = model_cost(c);
    // state: L·(2D + A·N)
    EXPECT_EQ(m.state_floats, 12u * (2 * 768 + 768 * 64));
    EXPECT_EQ(model_cost(cfg("rwkv4-169m")).state_floats, 12u * (2 * 768 + 3 * 768));
    EXPECT_DOUBLE_EQ(m.weight_bytes_per_token(DType::F32), 2 * m.weight_bytes_per_token(DType::F16));
    EXPECT_DOUBLE_EQ(m.bytes_per_token(DType::F16), m.weight_bytes_per_token(DType::F16) + 8.0 * m.state_floats);
    // int8: one byte per matrix entry, one f32 scale per row, vectors in f32.
    EXPECT_DOUBLE_EQ(m.weight_bytes_per_token(DType::I8),
                     double(m.matmul_weights) + 4.0 * m.matmul_rows + 4.0 * m.vector_params);
    EXPECT_LT(m.weight_bytes_per_token(DType::I8), 0.51 * m.weight_bytes_per_token(DType::F16));
    // rows: v7 0.1B per block r,k,v,o (4·768) + ffn key (3072) + value (768) + LoRA in (4·768)
    // + LoRA out (64+64+32+128), block 0's unused v1/v2 excluded; head 65536 rows.
    const uint64_t block = 4 * 768 + 3072 + 768 + 4 * 768 + (64 + 64 + 32 + 128);
    EXPECT_EQ(m.matmul_rows, 12 * block - (768 + 32) + 65536);
    // Whole checkpoint.
    EXPECT_EQ(weight_bytes(c, DType::F32), 4 * m.params);
    EXPECT_EQ(weight_bytes(c, DType::BF16), 2 * m.params);
    EXPECT_EQ(weight_bytes(c, DType::F64), 8 * m.params);
    EXPECT_GT(weight_bytes(c, DType::I8), m.params);
    EXPECT_LT(weight_bytes(c, DType::I8), m.params + m.params / 10);
}

}  // namespace
}  // namespace rwkvb
