#include "model_config.hpp"

#include "errors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <optional>
#include <string_view>

namespace rwkvb {
namespace {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// Builds the list in state_dict order; one helper per role keeps the tables below readable.
struct Builder {
    std::vector<TensorSpec> out;
    std::string prefix;
    void mat(const std::string& name, Shape shape) {
        out.push_back({prefix + name, std::move(shape), false, TensorRole::Matrix, {}});
    }
    void vec(const std::string& name, Shape shape) {
        out.push_back({prefix + name, std::move(shape), false, TensorRole::Vector, {}});
    }
};

void add_layer_norms(Builder& b, int layer, int64_t D) {
    b.prefix = fmt::format("blocks.{}.", layer);
    b.vec("ln1.weight", {D});
    b.vec("ln1.bias", {D});
    b.vec("ln2.weight", {D});
    b.vec("ln2.bias", {D});
    if (layer == 0) {  // RWKV-LM registers ln0 after ln1/ln2 in block 0
        b.vec("ln0.weight", {D});
        b.vec("ln0.bias", {D});
    }
}

void add_v4_block(Builder& b, const ModelConfig& c) {
    const int64_t D = c.n_embd, A = c.dim_att;
    b.vec("att.time_decay", {A});
    b.vec("att.time_first", {A});
    for (const char* m : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r"}) b.vec(m, {1, 1, D});
    b.mat("att.key.weight", {A, D});
    b.mat("att.value.weight", {A, D});
    b.mat("att.receptance.weight", {A, D});
    b.mat("att.output.weight", {D, A});
}

void add_v5_block(Builder& b, const ModelConfig& c) {
    const int64_t D = c.n_embd, A = c.dim_att, H = c.n_head, N = c.head_size;
    const bool gated = c.subversion >= 1;
    for (const char* m : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r"}) b.vec(m, {1, 1, D});
    if (gated) b.vec("att.time_mix_g", {1, 1, D});
    if (c.subversion == 2) {
        b.vec("att.time_decay", {H, N});
        b.vec("att.time_faaaa", {H, N});
    } else {
        b.vec("att.time_decay", {H});
        b.vec("att.time_first", {H});
        b.out.back().alt_name = b.prefix + "att.time_faaaa";  // pip accepts either (RWKV.md §3.2)
    }
    b.mat("att.receptance.weight", {A, D});
    b.mat("att.key.weight", {A, D});
    b.mat("att.value.weight", {A, D});
    b.mat("att.output.weight", {D, A});
    if (gated) b.mat("att.gate.weight", {A, D});
    b.vec("att.ln_x.weight", {A});
    b.vec("att.ln_x.bias", {A});
}

void add_v6_block(Builder& b, const ModelConfig& c) {
    const int64_t D = c.n_embd, A = c.dim_att, H = c.n_head, N = c.head_size;
    const int64_t Dm = c.lora_maa, Dd = c.lora_decay;
    for (const char* m : {"att.time_maa_x", "att.time_maa_w", "att.time_maa_k", "att.time_maa_v",
                          "att.time_maa_r", "att.time_maa_g"})
        b.vec(m, {1, 1, D});
    b.mat("att.time_maa_w1", {D, 5 * Dm});
    b.mat("att.time_maa_w2", {5, Dm, D});
    b.vec("att.time_decay", {1, 1, A});
    b.mat("att.time_decay_w1", {D, Dd});
    b.mat("att.time_decay_w2", {Dd, A});
    b.vec("att.time_faaaa", {H, N});
    b.mat("att.receptance.weight", {A, D});
    b.mat("att.key.weight", {A, D});
    b.mat("att.value.weight", {A, D});
    b.mat("att.output.weight", {D, A});
    b.mat("att.gate.weight", {A, D});
    b.vec("att.ln_x.weight", {A});
    b.vec("att.ln_x.bias", {A});
}

void add_v7_block(Builder& b, const ModelConfig& c, int layer) {
    const int64_t D = c.n_embd, H = c.n_head, N = c.head_size;
    for (const char* m : {"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g"})
        b.vec(m, {1, 1, D});
    b.mat("att.w1", {D, c.lora_decay});
    b.mat("att.w2", {c.lora_decay, D});
    b.vec("att.w0", {1, 1, D});
    b.mat("att.a1", {D, c.lora_iclr});
    b.mat("att.a2", {c.lora_iclr, D});
    b.vec("att.a0", {1, 1, D});
    const size_t first_v = b.out.size();
    b.mat("att.v1", {D, c.lora_value});
    b.mat("att.v2", {c.lora_value, D});
    b.vec("att.v0", {1, 1, D});
    if (layer == 0)  // block 0's value-residual LoRA is never used and may be absent (§5.1)
        for (size_t i = first_v; i < b.out.size(); ++i) {
            b.out[i].optional = true;
            b.out[i].used = false;
        }
    b.mat("att.g1", {D, c.lora_gate});
    b.mat("att.g2", {c.lora_gate, D});
    b.vec("att.k_k", {1, 1, D});
    b.vec("att.k_a", {1, 1, D});
    b.vec("att.r_k", {H, N});
    b.mat("att.receptance.weight", {D, D});
    b.mat("att.key.weight", {D, D});
    b.mat("att.value.weight", {D, D});
    b.mat("att.output.weight", {D, D});
    b.vec("att.ln_x.weight", {D});
    b.vec("att.ln_x.bias", {D});
}

void add_ffn(Builder& b, const ModelConfig& c) {
    const int64_t D = c.n_embd, F = c.dim_ffn;
    if (c.version == 7) {
        b.vec("ffn.x_k", {1, 1, D});
        b.mat("ffn.key.weight", {F, D});
        b.mat("ffn.value.weight", {D, F});
        return;
    }
    const char* mix = c.version == 6 ? "ffn.time_maa_" : "ffn.time_mix_";
    b.vec(std::string(mix) + "k", {1, 1, D});
    b.vec(std::string(mix) + "r", {1, 1, D});
    b.mat("ffn.key.weight", {F, D});
    b.mat("ffn.receptance.weight", {D, D});
    b.mat("ffn.value.weight", {D, F});
}

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
    throw InputError(fmt::format("{}: {}", what, problem));
}

bool is_float(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

Shape squeezed(const Shape& s) {
    Shape out;
    for (int64_t d : s)
        if (d != 1) out.push_back(d);
    return out;
}

// Matrices must match exactly; per-channel vectors may drop or add singleton dimensions
// (RWKV.md §0: "squeeze/flatten as needed"), e.g. v4 time_decay [A] or [1,1,A].
bool shape_accepted(const TensorSpec& spec, const Shape& actual) {
    if (actual == spec.shape) return true;
    return spec.role == TensorRole::Vector && squeezed(actual) == squeezed(spec.shape);
}

// Block index of "blocks.<i>.<rest>", or nullopt.
std::optional<int64_t> block_index(std::string_view name) {
    if (!name.starts_with("blocks.")) return std::nullopt;
    name.remove_prefix(7);
    int64_t i = -1;
    auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), i);
    if (ec != std::errc() || p == name.data() || p == name.data() + name.size() || *p != '.' || i < 0)
        return std::nullopt;
    return i;
}

struct Index {
    const std::string& source;
    std::map<std::string_view, const TensorView*> by_name;

    const TensorView* find(const std::string& name) const {
        auto it = by_name.find(name);
        return it == by_name.end() ? nullptr : it->second;
    }
    const TensorView& need(const std::string& name, const std::string& why) const {
        const TensorView* t = find(name);
        if (!t) fail(source, fmt::format("missing tensor '{}' ({})", name, why));
        return *t;
    }
    // Dimension `axis` of a tensor that must have exactly `rank` dimensions.
    int32_t dim(const std::string& name, size_t rank, size_t axis, const std::string& why) const {
        const TensorView& t = need(name, why);
        if (t.shape.size() != rank)
            fail(source, fmt::format("tensor '{}' has shape {}, expected {} dimensions ({})", name,
                                     shape_str(t.shape), rank, why));
        const int64_t d = t.shape[axis];
        if (d <= 0 || d > INT32_MAX)
            fail(source, fmt::format("tensor '{}' has shape {}: dimension {} out of range", name,
                                     shape_str(t.shape), axis));
        return int32_t(d);
    }
    bool any_contains(std::string_view part) const {
        return std::any_of(by_name.begin(), by_name.end(),
                           [&](const auto& kv) { return kv.first.find(part) != std::string_view::npos; });
    }
};

}  // namespace

std::vector<TensorSpec> expected_tensors(const ModelConfig& c) {
    const int64_t D = c.n_embd, V = c.vocab_size;
    Builder b;
    b.out.push_back({"emb.weight", {V, D}, false, TensorRole::Embedding, {}});
    for (int layer = 0; layer < c.n_layer; ++layer) {
        add_layer_norms(b, layer, D);
        switch (c.version) {
            case 4: add_v4_block(b, c); break;
            case 5: add_v5_block(b, c); break;
            case 6: add_v6_block(b, c); break;
            case 7: add_v7_block(b, c, layer); break;
            default: throw std::invalid_argument(fmt::format("expected_tensors: RWKV version {}", c.version));
        }
        add_ffn(b, c);
    }
    b.prefix.clear();
    b.vec("ln_out.weight", {D});
    b.vec("ln_out.bias", {D});
    b.mat("head.weight", {V, D});
    return std::move(b.out);
}

void validate_config(const ModelConfig& c, const std::string& what) {
    auto positive = [&](int32_t v, const char* name) {
        if (v <= 0) fail(what, fmt::format("{} must be positive, got {}", name, v));
    };
    if (c.version < 4 || c.version > 7) fail(what, fmt::format("unknown RWKV version {}", c.version));
    if (c.version == 5 ? (c.subversion < 0 || c.subversion > 2) : c.subversion != 0)
        fail(what, fmt::format("bad subversion {} for RWKV-{}", c.subversion, c.version));
    positive(c.n_layer, "n_layer (L)");
    positive(c.n_embd, "n_embd (D)");
    positive(c.dim_att, "dim_att (A)");
    positive(c.dim_ffn, "dim_ffn (F)");
    positive(c.vocab_size, "vocab_size (V)");
    if (c.version == 7 && c.dim_att != c.n_embd)
        fail(what, fmt::format("RWKV-7 needs dim_att == n_embd, got A={} D={}", c.dim_att, c.n_embd));
    if (c.version >= 5) {
        positive(c.n_head, "n_head (H)");
        positive(c.head_size, "head_size (N)");
        if (int64_t(c.n_head) * c.head_size != c.dim_att)
            fail(what, fmt::format("H×N = {}×{} does not equal dim_att {}", c.n_head, c.head_size, c.dim_att));
    }
    if (c.version == 6) {
        positive(c.lora_maa, "lora_maa (Dm)");
        positive(c.lora_decay, "lora_decay (Dd)");
    }
    if (c.version == 7) {
        positive(c.lora_decay, "lora_decay (Dw)");
        positive(c.lora_iclr, "lora_iclr (Da)");
        positive(c.lora_gate, "lora_gate (Dg)");
        if (c.lora_value < 0 || (c.lora_value == 0 && c.n_layer > 1))
            fail(what, fmt::format("lora_value (Dv) must be positive, got {}", c.lora_value));
    }
}

ModelConfig detect_config(std::span<const TensorView> tensors, const std::string& source) {
    Index ix{source, {}};
    int64_t max_block = -1;
    for (const TensorView& t : tensors) {
        ix.by_name[t.name] = &t;
        if (auto i = block_index(t.name)) max_block = std::max(max_block, *i);
    }
    if (!ix.find("emb.weight") || max_block < 0) {
        std::string hint;
        if (ix.any_contains("embeddings.weight") || ix.any_contains(".attention."))
            hint = " (this looks like a Hugging Face port: convert it to BlinkDL's original names)";
        else if (ix.find("_strategy") || ix.find("_version"))
            hint = " (this looks like a pip-converted file: use the raw checkpoint)";
        fail(source, fmt::format("unknown layout: {} — not an RWKV checkpoint in the official naming "
                                 "(RWKV.md §2–§5){}",
                                 ix.find("emb.weight") ? "no 'blocks.<i>.*' tensors" : "no 'emb.weight' tensor",
                                 hint));
    }
    // A stray huge block index must not make us build (and report) billions of expected names:
    // name the first block that has no tensors at all.
    if (uint64_t(max_block) >= tensors.size()) {
        std::vector<bool> present(tensors.size() + 1, false);
        std::string highest;
        for (const TensorView& t : tensors)
            if (auto i = block_index(t.name)) {
                if (uint64_t(*i) < present.size()) present[size_t(*i)] = true;
                if (*i == max_block) highest = t.name;
            }
        const size_t gap = size_t(std::find(present.begin(), present.end(), false) - present.begin());
        fail(source, fmt::format("tensor '{}' is in block {}, but block {} has no tensors (missing tensor "
                                 "'blocks.{}.ln1.weight')", highest, max_block, gap, gap));
    }

    ModelConfig c{};
    c.n_layer = int32_t(max_block + 1);
    c.vocab_size = ix.dim("emb.weight", 2, 0, "embedding [V, D]");
    c.n_embd = ix.dim("emb.weight", 2, 1, "embedding [V, D]");

    const std::string b0 = "blocks.0.", b1 = c.n_layer > 1 ? "blocks.1." : "blocks.0.";
    if (ix.any_contains("att.k_k") || ix.any_contains("att.r_k")) {
        c.version = 7;
    } else if (ix.any_contains("time_maa")) {
        c.version = 6;
    } else if (ix.any_contains("ln_x")) {
        c.version = 5;
        // pip's rule: a 2-D time_decay with more than one column is per-channel decay (5.2).
        const TensorView* decay = ix.find(b0 + "att.time_decay");
        const bool per_channel = decay && decay->shape.size() == 2 && decay->shape[1] > 1;
        c.subversion = per_channel ? 2 : ix.find(b0 + "att.gate.weight") ? 1 : 0;
    } else if (ix.find(b0 + "att.time_first") || ix.find(b0 + "att.time_mix_k")) {
        c.version = 4;
    } else {
        fail(source, "unknown layout: found emb.weight and blocks, but none of the markers of RWKV-4 "
                     "(att.time_first), RWKV-5 (att.ln_x), RWKV-6 (att.time_maa_*) or RWKV-7 (att.k_k, att.r_k)");
    }

    // State-tuned files carry an initial WKV state (RWKV.md §4.1) that no backend loads: running
    // them from a zero state would give wrong logits that still pass parity, so refuse them.
    for (const TensorView& t : tensors)
        if (block_index(t.name) && t.name.ends_with(".att.time_state"))
            fail(source, fmt::format("tensor '{}': state-tuned RWKV-{} checkpoints are not supported (their "
                                     "initial state would be ignored)", t.name, c.version));

    c.dim_att = ix.dim(b0 + "att.key.weight", 2, 0, "attention key [A, D]");
    c.dim_ffn = ix.dim(b0 + "ffn.key.weight", 2, 0, "FFN key [F, D]");
    switch (c.version) {
        case 5:
            if (c.subversion == 2) {
                c.n_head = ix.dim(b0 + "att.time_decay", 2, 0, "per-channel decay [H, N]");
                c.head_size = ix.dim(b0 + "att.time_decay", 2, 1, "per-channel decay [H, N]");
            } else {
                const TensorView& t = ix.need(b0 + "att.time_decay", "per-head decay [H]");
                const Shape s = squeezed(t.shape);
                if (s.size() > 1)
                    fail(source, fmt::format("tensor '{}att.time_decay' has shape {}, expected [H]", b0,
                                             shape_str(t.shape)));
                c.n_head = int32_t(s.empty() ? 1 : s[0]);
                if (c.dim_att % c.n_head != 0)
                    fail(source, fmt::format("tensor '{}att.time_decay' has {} heads, which do not divide "
                                             "dim_att {}", b0, c.n_head, c.dim_att));
                c.head_size = c.dim_att / c.n_head;
            }
            break;
        case 6: {
            c.n_head = ix.dim(b0 + "att.time_faaaa", 2, 0, "bonus [H, N]");
            c.head_size = ix.dim(b0 + "att.time_faaaa", 2, 1, "bonus [H, N]");
            const int32_t w1 = ix.dim(b0 + "att.time_maa_w1", 2, 1, "mix LoRA [D, 5·Dm]");
            if (w1 % 5 != 0)
                fail(source, fmt::format("tensor '{}att.time_maa_w1' has {} columns, expected a multiple of 5",
                                         b0, w1));
            c.lora_maa = w1 / 5;
            c.lora_decay = ix.dim(b0 + "att.time_decay_w1", 2, 1, "decay LoRA [D, Dd]");
            break;
        }
        case 7:
            c.n_head = ix.dim(b0 + "att.r_k", 2, 0, "bonus [H, N]");
            c.head_size = ix.dim(b0 + "att.r_k", 2, 1, "bonus [H, N]");
            c.lora_decay = ix.dim(b0 + "att.w1", 2, 1, "decay LoRA [D, Dw]");
            c.lora_iclr = ix.dim(b0 + "att.a1", 2, 1, "ICLR LoRA [D, Da]");
            c.lora_gate = ix.dim(b0 + "att.g1", 2, 1, "gate LoRA [D, Dg]");
            // Block 0's v1 is optional, so read Dv from block 1 when there is one.
            if (ix.find(b1 + "att.v1"))
                c.lora_value = ix.dim(b1 + "att.v1", 2, 1, "value LoRA [D, Dv]");
            else if (c.n_layer == 1 && ix.find(b0 + "att.v1"))
                c.lora_value = ix.dim(b0 + "att.v1", 2, 1, "value LoRA [D, Dv]");
            else if (c.n_layer > 1)
                ix.need(b1 + "att.v1", "value LoRA [D, Dv]");
            break;
        default: break;
    }
    if (c.version >= 5 && int64_t(c.n_head) * c.head_size != c.dim_att) {
        const char* from = c.version == 7 ? "att.r_k" : c.version == 6 ? "att.time_faaaa" : "att.time_decay";
        fail(source, fmt::format("tensor '{}{}' gives H×N = {}×{}, which does not equal dim_att {} "
                                 "(rows of '{}att.key.weight')", b0, from, c.n_head, c.head_size, c.dim_att, b0));
    }
    validate_config(c, source);

    // Every expected tensor present, shaped and typed as the official layout says.
    std::map<std::string_view, bool> claimed;
    for (const TensorSpec& spec : expected_tensors(c)) {
        const TensorView* t = ix.find(spec.name);
        if (!t && !spec.alt_name.empty()) t = ix.find(spec.alt_name);
        if (!t) {
            if (spec.optional) continue;
            fail(source, fmt::format("missing tensor '{}' (expected shape {} for an RWKV-{} checkpoint: {})",
                                     spec.name, shape_str(spec.shape), version_string(c), describe(c)));
        }
        claimed[t->name] = true;
        if (!shape_accepted(spec, t->shape))
            fail(source, fmt::format("tensor '{}' has shape {}, expected {} ({})", t->name,
                                     shape_str(t->shape), shape_str(spec.shape), describe(c)));
        if (!is_float(t->dtype))
            fail(source, fmt::format("tensor '{}' has dtype {}, expected a float dtype (F32, F16, BF16 or F64)",
                                     t->name, dtype_name(t->dtype)));
    }
    // Anything else would be silently ignored by every backend: refuse it (e.g. the DeepEmbed
    // variant's ffn.s_emb, out of scope in RWKV.md §5.4, or a block beyond a gap).
    for (const TensorView& t : tensors)
        if (!claimed.count(t.name))
            fail(source, fmt::format("unexpected tensor '{}' (shape {}) in an RWKV-{} checkpoint ({}): not part "
                                     "of the official layout", t.name, shape_str(t.shape), version_string(c),
                                     describe(c)));
    return c;
}

ModelConfig detect_config(const SafetensorsFile& file) {
    return detect_config(std::span<const TensorView>(file.tensors()), file.path().string());
}

std::string version_string(const ModelConfig& c) {
    if (c.version == 5) return fmt::format("5.{}", c.subversion);
    return fmt::format("{}", c.version);
}

std::string describe(const ModelConfig& c) {
    std::string s = fmt::format("v{} L{} D{}", version_string(c), c.n_layer, c.n_embd);
    if (c.dim_att != c.n_embd) s += fmt::format(" A{}", c.dim_att);
    if (c.version >= 5) s += fmt::format(" H{}×{}", c.n_head, c.head_size);
    s += fmt::format(" F{} V{}", c.dim_ffn, c.vocab_size);
    if (c.version == 6) s += fmt::format(" (Dm{} Dd{})", c.lora_maa, c.lora_decay);
    if (c.version == 7)
        s += fmt::format(" (Dw{} Da{} Dv{} Dg{})", c.lora_decay, c.lora_iclr, c.lora_value, c.lora_gate);
    return s;
}

}  // namespace rwkvb
