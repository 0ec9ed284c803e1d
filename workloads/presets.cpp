#include "presets.hpp"

#include <algorithm>
#include <stdexcept>

namespace rwkvb {
namespace {

constexpr int32_t kVocabPile = 50277;   // 20B NeoX tokenizer (v4 Pile / Raven)
constexpr int32_t kVocabWorld = 65536;  // RWKV World tokenizer (every World / G model)

ModelConfig v4(int32_t L, int32_t D, int32_t V) {
    ModelConfig c{};
    c.version = 4;
    c.n_layer = L;
    c.n_embd = c.dim_att = D;
    c.dim_ffn = 4 * D;
    c.vocab_size = V;
    return c;
}

ModelConfig v5(int sub, int32_t L, int32_t D, int32_t F, int32_t V) {
    ModelConfig c{};
    c.version = 5;
    c.subversion = sub;
    c.n_layer = L;
    c.n_embd = c.dim_att = D;
    c.dim_ffn = F;
    c.head_size = 64;
    c.n_head = D / 64;
    c.vocab_size = V;
    return c;
}

ModelConfig v6(int32_t L, int32_t D, int32_t F, int32_t V, int32_t Dm, int32_t Dd) {
    ModelConfig c = v5(0, L, D, F, V);
    c.version = 6;
    c.lora_maa = Dm;
    c.lora_decay = Dd;
    return c;
}

ModelConfig v7(int32_t L, int32_t D, int32_t V, int32_t Dw, int32_t Da, int32_t Dv, int32_t Dg) {
    ModelConfig c = v5(0, L, D, 4 * D, V);
    c.version = 7;
    c.lora_decay = Dw;
    c.lora_iclr = Da;
    c.lora_value = Dv;
    c.lora_gate = Dg;
    return c;
}

std::vector<Preset> make_presets() {
    const std::string v4p = "RWKV-4 Pile", v4r = "RWKV-4 Raven", v4w = "RWKV-4 World",
                      f5 = "RWKV-5 Eagle", f6 = "RWKV-6 Finch", f7 = "RWKV-7 Goose", test = "test shape";
    const std::string world_note = "which v4 World sizes were released is uncertain (RWKV.md §7)";
    const std::string fixture_note = "same shapes as the golden fixture of this name";
    return {
        // Released shapes, RWKV.md §7.
        {"rwkv4-169m", v4p, v4(12, 768, kVocabPile), ""},
        {"rwkv4-430m", v4p, v4(24, 1024, kVocabPile), ""},
        {"rwkv4-1.5b", v4p, v4(24, 2048, kVocabPile), ""},
        {"rwkv4-3b", v4p, v4(32, 2560, kVocabPile), ""},
        {"rwkv4-7b", v4p, v4(32, 4096, kVocabPile), ""},
        {"rwkv4-14b", v4p, v4(40, 5120, kVocabPile), ""},
        {"rwkv4-raven-7b", v4r, v4(32, 4096, kVocabPile), "same shapes as rwkv4-7b"},
        {"rwkv4-raven-14b", v4r, v4(40, 5120, kVocabPile), "same shapes as rwkv4-14b"},
        {"rwkv4-world-0.1b", v4w, v4(12, 768, kVocabWorld), world_note},
        {"rwkv4-world-0.4b", v4w, v4(24, 1024, kVocabWorld), world_note},
        {"rwkv4-world-1.5b", v4w, v4(24, 2048, kVocabWorld), world_note},
        {"rwkv4-world-3b", v4w, v4(32, 2560, kVocabWorld), world_note},
        {"rwkv4-world-7b", v4w, v4(32, 4096, kVocabWorld), world_note},
        {"rwkv5-0.4b", f5, v5(2, 24, 1024, 3584, kVocabWorld), ""},
        {"rwkv5-1.5b", f5, v5(2, 24, 2048, 7168, kVocabWorld), ""},
        {"rwkv5-3b", f5, v5(2, 32, 2560, 8960, kVocabWorld), ""},
        {"rwkv5-7b", f5, v5(2, 32, 4096, 14336, kVocabWorld), ""},
        {"rwkv6-1.6b", f6, v6(24, 2048, 7168, kVocabWorld, 32, 64), ""},
        {"rwkv6-3b", f6, v6(32, 2560, 8960, kVocabWorld, 32, 64), ""},
        {"rwkv6-7b", f6, v6(32, 4096, 14336, kVocabWorld, 64, 128), ""},
        {"rwkv6-14b", f6, v6(61, 4096, 14336, kVocabWorld, 64, 128), ""},
        {"rwkv7-0.1b", f7, v7(12, 768, kVocabWorld, 64, 64, 32, 128), ""},
        {"rwkv7-0.4b", f7, v7(24, 1024, kVocabWorld, 64, 64, 32, 128),
         "LoRA ranks uncertain: Dg may be 160 (RWKV.md §5.1)"},
        {"rwkv7-1.5b", f7, v7(24, 2048, kVocabWorld, 96, 96, 64, 256), ""},
        {"rwkv7-2.9b", f7, v7(32, 2560, kVocabWorld, 96, 96, 64, 320), ""},
        {"rwkv7-7.2b", f7, v7(32, 4096, kVocabWorld, 128, 128, 96, 480), ""},
        {"rwkv7-13.3b", f7, v7(61, 4096, kVocabWorld, 128, 128, 96, 480),
         "LoRA ranks uncertain (RWKV.md §5.1)"},
        // Small shapes for tests and CI (RWKV.md §11): L=2, D=128, V=512, N=64.
        {"rwkv4-tiny", test, v4(2, 128, 512), fixture_note},
        {"rwkv5.0-tiny", test, v5(0, 2, 128, 448, 512), "RWKV-5.0 preview format"},
        {"rwkv5.1-tiny", test, v5(1, 2, 128, 448, 512), "RWKV-5.1 preview format"},
        {"rwkv5-tiny", test, v5(2, 2, 128, 448, 512), fixture_note},
        {"rwkv6-tiny", test, v6(2, 128, 448, 512, 32, 64), fixture_note},
        {"rwkv7-tiny", test, v7(2, 128, 512, 32, 32, 32, 64), fixture_note},
        {"rwkv4-small", test, v4(3, 256, 1024), fixture_note},
        {"rwkv5-small", test, v5(2, 3, 256, 896, 1024), fixture_note},
        {"rwkv6-small", test, v6(3, 256, 896, 1024, 32, 64), fixture_note},
        {"rwkv7-small", test, v7(3, 256, 1024, 32, 32, 32, 64), fixture_note},
    };
}

bool is_float(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

uint64_t numel(const TensorSpec& s) {
    uint64_t n = 1;
    for (int64_t d : s.shape) n *= uint64_t(d);
    return n;
}

// Rows of a matrix as int8 quantises it: every dimension but the last.
uint64_t rows(const TensorSpec& s) { return s.shape.empty() ? 1 : numel(s) / uint64_t(s.shape.back()); }

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

const std::vector<Preset>& presets() {
    static const std::vector<Preset> all = make_presets();
    return all;
}

const Preset* find_preset(std::string_view name) {
    for (const Preset& p : presets())
        if (p.name == name) return &p;
    return nullptr;
}

std::vector<std::string> close_preset_names(std::string_view name, size_t max_count) {
    std::vector<std::pair<size_t, std::string>> scored;
    for (const Preset& p : presets()) {
        size_t d = edit_distance(name, p.name);
        if (!name.empty() && p.name.find(name) != std::string::npos) d = 0;  // a substring is close
        scored.emplace_back(d, p.name);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (const auto& [d, n] : scored) {
        if (out.size() >= max_count) break;
        out.push_back(n);
    }
    return out;
}

ModelCost model_cost(const ModelConfig& c) {
    ModelCost cost{};
    cost.vector_params = uint64_t(c.n_embd);  // the one embedding row read per token
    for (const TensorSpec& s : expected_tensors(c)) {
        cost.params += numel(s);
        if (!s.used) continue;
        if (s.role == TensorRole::Matrix) {
            cost.matmul_weights += numel(s);
            cost.matmul_rows += rows(s);
        } else if (s.role == TensorRole::Vector) {
            cost.vector_params += numel(s);
        }
    }
    const double L = c.n_layer, D = c.n_embd, A = c.dim_att, F = c.dim_ffn, N = c.head_size;
    cost.state_floats = c.version == 4 ? uint64_t(L * (2 * D + 3 * A)) : uint64_t(L * (2 * D + A * N));
    // RWKV.md §8: FLOPs ≈ 2·W_mm + L·C_wkv + L·C_ew.
    double wkv = 0;
    switch (c.version) {
        case 4: wkv = 20 * A; break;
        case 5: wkv = 7 * A * N; break;
        case 6: wkv = 7 * A * N + 2 * A; break;  // + the per-token decay exps
        case 7: wkv = 9 * A * N + 2 * A; break;  // + sigmoid and exp of the decay
        default: break;
    }
    const double elementwise = 50 * D + 2 * F;  // LayerNorms, lerps, activations: 40–70·D + 2F
    cost.flops_per_token = 2.0 * double(cost.matmul_weights) + L * (wkv + elementwise);
    return cost;
}

double ModelCost::weight_bytes_per_token(DType t) const {
    if (t == DType::I8) return double(matmul_weights) + 4.0 * double(matmul_rows) + 4.0 * double(vector_params);
    if (!is_float(t)) throw std::invalid_argument("weight_bytes_per_token: not a weight dtype");
    return double(dtype_size(t)) * double(matmul_weights + vector_params);
}

double ModelCost::bytes_per_token(DType t) const {
    return weight_bytes_per_token(t) + 2.0 * 4.0 * double(state_floats);
}

uint64_t weight_bytes(const ModelConfig& c, DType t) {
    if (t != DType::I8 && !is_float(t)) throw std::invalid_argument("weight_bytes: not a weight dtype");
    uint64_t total = 0;
    for (const TensorSpec& s : expected_tensors(c)) {
        if (t == DType::I8)
            total += s.role == TensorRole::Vector ? 4 * numel(s) : numel(s) + 4 * rows(s);
        else
            total += dtype_size(t) * numel(s);
    }
    return total;
}

}  // namespace rwkvb
