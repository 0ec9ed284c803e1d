// Checkpoint → Model: finds every tensor by its official name, checks its shape, converts it to
// f32 and applies the load-time transforms of RWKV.md (§2.1, §3.2, §4.1, §5.1).
#include "dtype.hpp"  // rwkvb::f16_to_f32, bf16_to_f32
#include "model.hpp"
#include "norms.hpp"

#include <cmath>
#include <cstring>
#include <string>
#include <unordered_map>

namespace rwkvd {
namespace {

std::string shape_str(const rwkvb_tensor& t) {
    std::string s = "[";
    for (int i = 0; i < t.ndim; ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
    return s + "]";
}

class Tensors {
public:
    Tensors(const rwkvb_tensor* t, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            if (!t[i].name) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor #" + std::to_string(i) + " has no name");
            map_[t[i].name] = &t[i];
        }
    }
    const rwkvb_tensor* find(const std::string& name) const {
        auto it = map_.find(name);
        return it == map_.end() ? nullptr : it->second;
    }
    // The tensor as f32, checked to hold `numel` elements, and, when `dims` is given, to have
    // exactly that shape (leading singleton dims allowed).
    Vec get(const std::string& name, int64_t numel, std::initializer_list<int64_t> dims = {}) const {
        const rwkvb_tensor* t = find(name);
        if (!t) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "' is missing");
        if (t->ndim < 0 || t->ndim > 4)
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "': ndim " + std::to_string(t->ndim));
        int64_t count = 1;
        for (int i = 0; i < t->ndim; ++i) count *= t->shape[i];
        bool ok = count == numel;
        if (ok && dims.size()) {
            // Compare the trailing dims; any extra leading dims must be 1.
            const int extra = t->ndim - int(dims.size());
            ok = extra >= 0;
            for (int i = 0; ok && i < extra; ++i) ok = t->shape[i] == 1;
            int i = 0;
            for (int64_t d : dims) ok = ok && t->shape[extra + i++] == d;
        }
        if (!ok) {
            std::string want = "[";
            int i = 0;
            for (int64_t d : dims) {
                if (i++) want += ',';
                want += std::to_string(d);  // (not `"," + to_string`: GCC 12 -Wrestrict false positive)
            }
            want += "]";
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "': expected " +
                        (dims.size() ? "shape " + want : std::to_string(numel) + " elements") +
                        ", got " + shape_str(*t));
        }
        size_t esize = t->dtype == RWKVB_F64 ? 8 : t->dtype == RWKVB_F32 ? 4
                     : (t->dtype == RWKVB_F16 || t->dtype == RWKVB_BF16) ? 2 : 0;
        if (!esize)
            throw Error(RWKVB_ERR_UNSUPPORTED, "tensor '" + name + "': element type " +
                        std::to_string(t->dtype) + " is not a float type (F64/F32/F16/BF16)");
        if (t->nbytes != uint64_t(numel) * esize || (!t->data && numel))
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "': " + std::to_string(t->nbytes) +
                        " bytes for " + std::to_string(numel) + " elements");
        Vec out(static_cast<size_t>(numel));
        const auto* p = static_cast<const unsigned char*>(t->data);
        for (int64_t i = 0; i < numel; ++i) {
            if (t->dtype == RWKVB_F32) std::memcpy(&out[i], p + 4 * i, 4);
            else if (t->dtype == RWKVB_F64) {
                double d;
                std::memcpy(&d, p + 8 * i, 8);
                out[i] = float(d);
            } else {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                out[i] = t->dtype == RWKVB_BF16 ? rwkvb::bf16_to_f32(h) : rwkvb::f16_to_f32(h);
            }
        }
        return out;
    }
    // A matrix stored [rows][cols] (nn.Linear [out,in], or LoRA [in,out] when in_out).
    Linear linear(const std::string& name, int64_t rows, int64_t cols, bool in_out, WType type) const {
        Vec v = get(name, rows * cols, {rows, cols});
        return in_out ? make_linear(v.data(), cols, rows, true, type)
                      : make_linear(v.data(), rows, cols, false, type);
    }

private:
    std::unordered_map<std::string, const rwkvb_tensor*> map_;
};

Vec one_minus(Vec v) {
    for (auto& x : v) x = 1.f - x;
    return v;
}

void check_config(const rwkvb_model_config& c) {
    auto bad = [](const std::string& m) { throw Error(RWKVB_ERR_INVALID_ARGUMENT, "model config: " + m); };
    if (c.version < 4 || c.version > 7)
        throw Error(RWKVB_ERR_UNSUPPORTED, "model config: RWKV version " + std::to_string(c.version) +
                    " is not supported (4, 5, 6, 7)");
    if (c.n_layer <= 0 || c.n_embd <= 0 || c.dim_att <= 0 || c.dim_ffn <= 0 || c.vocab_size <= 0)
        bad("n_layer, n_embd, dim_att, dim_ffn and vocab_size must be positive");
    if (c.version >= 5 && (c.n_head <= 0 || c.head_size <= 0 || int64_t(c.n_head) * c.head_size != c.dim_att))
        bad("n_head × head_size must equal dim_att");
    if (c.version == 5 && (c.subversion < 0 || c.subversion > 2)) bad("v5 subversion must be 0, 1 or 2");
    if (c.version == 6 && (c.lora_maa <= 0 || c.lora_decay <= 0)) bad("v6 needs lora_maa and lora_decay");
    if (c.version == 7 && (c.lora_decay <= 0 || c.lora_iclr <= 0 || c.lora_value <= 0 || c.lora_gate <= 0))
        bad("v7 needs lora_decay, lora_iclr, lora_value and lora_gate");
    if (c.version == 7 && c.dim_att != c.n_embd) bad("v7 needs dim_att == n_embd");
}

uint64_t vec_bytes(const Vec& v) { return v.size() * sizeof(float); }

}  // namespace

Model load_model(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n, WType wt) {
    check_config(cfg);
    Tensors T(tensors, n);
    Model m;
    m.cfg = cfg;
    m.wtype = wt;
    const int64_t D = cfg.n_embd, A = cfg.dim_att, F = cfg.dim_ffn, V = cfg.vocab_size;
    const int64_t H = cfg.n_head, N = cfg.head_size;
    const int ver = cfg.version, sub = cfg.subversion;
    // LoRA matrices (v6, v7) at the weight dtype for f16/bf16: their products still accumulate
    // and leave in f32, so the decay stays f32 before its sigmoid/exp (RWKV.md §10.4), and the
    // harness's cost model counts them at that dtype. With int8 weights they stay f32: rank-32..128
    // factors are not worth a per-row quantisation of what feeds the decay.
    const WType lora_t = wt == WType::S8 ? WType::F32 : wt;

    // Embedding with ln0 applied once (RWKV.md §1).
    m.emb = T.get("emb.weight", V * D, {V, D});
    {
        Vec w0 = T.get("blocks.0.ln0.weight", D), b0 = T.get("blocks.0.ln0.bias", D);
        layer_norm(m.emb.data(), V, D, D, w0.data(), b0.data(), m.emb.data(), D);
    }
    m.ln_out_w = T.get("ln_out.weight", D);
    m.ln_out_b = T.get("ln_out.bias", D);
    m.head = T.linear("head.weight", V, D, false, wt);

    m.layers.resize(size_t(cfg.n_layer));
    for (int64_t l = 0; l < cfg.n_layer; ++l) {
        Layer& L = m.layers[size_t(l)];
        const std::string p = "blocks." + std::to_string(l) + ".";
        const std::string a = p + "att.", f = p + "ffn.";
        L.ln1_w = T.get(p + "ln1.weight", D);
        L.ln1_b = T.get(p + "ln1.bias", D);
        L.ln2_w = T.get(p + "ln2.weight", D);
        L.ln2_b = T.get(p + "ln2.bias", D);

        if (ver == 4 || ver == 5 || ver == 6) {
            L.Wr = T.linear(a + "receptance.weight", A, D, false, wt);
            L.Wk = T.linear(a + "key.weight", A, D, false, wt);
            L.Wv = T.linear(a + "value.weight", A, D, false, wt);
            L.Wo = T.linear(a + "output.weight", D, A, false, wt);
        }
        if (ver == 4) {
            L.mu_k = one_minus(T.get(a + "time_mix_k", D));
            L.mu_v = one_minus(T.get(a + "time_mix_v", D));
            L.mu_r = one_minus(T.get(a + "time_mix_r", D));
            L.decay = T.get(a + "time_decay", A);
            for (auto& x : L.decay) x = -std::exp(x);
            L.bonus = T.get(a + "time_first", A);
        } else if (ver == 5) {
            L.mu_k = one_minus(T.get(a + "time_mix_k", D));
            L.mu_v = one_minus(T.get(a + "time_mix_v", D));
            L.mu_r = one_minus(T.get(a + "time_mix_r", D));
            if (sub >= 1) {
                L.mu_g = one_minus(T.get(a + "time_mix_g", D));
                L.Wg = T.linear(a + "gate.weight", A, D, false, wt);
            }
            // 5.0/5.1: one decay and bonus per head; 5.2: per channel. Expanded to A either way.
            const int64_t per = sub == 2 ? A : H;
            Vec d = T.get(a + "time_decay", per);
            const bool faaaa = T.find(a + "time_faaaa") != nullptr;
            Vec u = T.get(a + (faaaa ? "time_faaaa" : "time_first"), per);
            L.decay.resize(size_t(A));
            L.bonus.resize(size_t(A));
            for (int64_t c = 0; c < A; ++c) {
                const int64_t i = sub == 2 ? c : c / N;
                L.decay[c] = std::exp(-std::exp(d[i]));
                L.bonus[c] = faaaa ? u[i] : std::exp(u[i]);
            }
        } else if (ver == 6) {
            const int64_t Dm = cfg.lora_maa, Dd = cfg.lora_decay;
            L.mu_x = T.get(a + "time_maa_x", D);
            L.mu_w = T.get(a + "time_maa_w", D);
            L.mu_k = T.get(a + "time_maa_k", D);
            L.mu_v = T.get(a + "time_maa_v", D);
            L.mu_r = T.get(a + "time_maa_r", D);
            L.mu_g = T.get(a + "time_maa_g", D);
            L.maa_w1 = T.linear(a + "time_maa_w1", D, 5 * Dm, true, lora_t);
            Vec w2 = T.get(a + "time_maa_w2", 5 * Dm * D, {5, Dm, D});
            for (int s = 0; s < 5; ++s) L.maa_w2[s] = make_linear(w2.data() + s * Dm * D, D, Dm, true, lora_t);
            L.decay = T.get(a + "time_decay", A);
            L.decay_w1 = T.linear(a + "time_decay_w1", D, Dd, true, lora_t);
            L.decay_w2 = T.linear(a + "time_decay_w2", Dd, A, true, lora_t);
            L.bonus = T.get(a + "time_faaaa", A, {H, N});
            L.Wg = T.linear(a + "gate.weight", A, D, false, wt);
        } else {  // 7
            const int64_t Dw = cfg.lora_decay, Da = cfg.lora_iclr, Dv = cfg.lora_value, Dg = cfg.lora_gate;
            L.mu_r = T.get(a + "x_r", D);
            L.mu_w = T.get(a + "x_w", D);
            L.mu_k = T.get(a + "x_k", D);
            L.mu_v = T.get(a + "x_v", D);
            L.mu_a = T.get(a + "x_a", D);
            L.mu_g = T.get(a + "x_g", D);
            L.decay = T.get(a + "w0", D);
            L.w1 = T.linear(a + "w1", D, Dw, true, lora_t);
            L.w2 = T.linear(a + "w2", Dw, D, true, lora_t);
            L.a0 = T.get(a + "a0", D);
            L.a1 = T.linear(a + "a1", D, Da, true, lora_t);
            L.a2 = T.linear(a + "a2", Da, D, true, lora_t);
            if (l > 0) {  // block 0's v0/v1/v2 are never used (and may be absent)
                L.v0 = T.get(a + "v0", D);
                L.v1 = T.linear(a + "v1", D, Dv, true, lora_t);
                L.v2 = T.linear(a + "v2", Dv, D, true, lora_t);
            }
            L.g1 = T.linear(a + "g1", D, Dg, true, lora_t);
            L.g2 = T.linear(a + "g2", Dg, D, true, lora_t);
            L.k_k = T.get(a + "k_k", D);
            L.k_a = T.get(a + "k_a", D);
            L.bonus = T.get(a + "r_k", A, {H, N});
            L.Wr = T.linear(a + "receptance.weight", D, D, false, wt);
            L.Wk = T.linear(a + "key.weight", D, D, false, wt);
            L.Wv = T.linear(a + "value.weight", D, D, false, wt);
            L.Wo = T.linear(a + "output.weight", D, D, false, wt);
        }
        if (ver >= 5) {
            L.lnx_w = T.get(a + "ln_x.weight", A);
            L.lnx_b = T.get(a + "ln_x.bias", A);
        }

        if (ver <= 5) {
            L.fmu_k = one_minus(T.get(f + "time_mix_k", D));
            L.fmu_r = one_minus(T.get(f + "time_mix_r", D));
        } else if (ver == 6) {
            L.fmu_k = T.get(f + "time_maa_k", D);
            L.fmu_r = T.get(f + "time_maa_r", D);
        } else {
            L.fmu_k = T.get(f + "x_k", D);
        }
        L.Fk = T.linear(f + "key.weight", F, D, false, wt);
        L.Fv = T.linear(f + "value.weight", D, F, false, wt);
        if (ver != 7) L.Fr = T.linear(f + "receptance.weight", D, D, false, wt);
    }

    // Bytes held: every converted matrix and vector.
    uint64_t bytes = vec_bytes(m.emb) + vec_bytes(m.ln_out_w) + vec_bytes(m.ln_out_b) + m.head.bytes();
    for (const Layer& L : m.layers) {
        for (const Vec* v : {&L.ln1_w, &L.ln1_b, &L.ln2_w, &L.ln2_b, &L.mu_r, &L.mu_k, &L.mu_v, &L.mu_g,
                             &L.mu_w, &L.mu_a, &L.mu_x, &L.decay, &L.bonus, &L.lnx_w, &L.lnx_b, &L.a0,
                             &L.v0, &L.k_k, &L.k_a, &L.fmu_k, &L.fmu_r})
            bytes += vec_bytes(*v);
        for (const Linear* w : {&L.Wr, &L.Wk, &L.Wv, &L.Wg, &L.Wo, &L.maa_w1, &L.maa_w2[0], &L.maa_w2[1],
                                &L.maa_w2[2], &L.maa_w2[3], &L.maa_w2[4], &L.decay_w1, &L.decay_w2, &L.w1,
                                &L.w2, &L.a1, &L.a2, &L.v1, &L.v2, &L.g1, &L.g2, &L.Fk, &L.Fr, &L.Fv})
            bytes += w->bytes();
    }
    m.weight_bytes = bytes;
    return m;
}

void state_init(const Model& m, State& s, int32_t batch) {
    const auto& c = m.cfg;
    s.batch = batch;
    s.wkv_floats = c.version == 4 ? 3 * int64_t(c.dim_att) : int64_t(c.n_head) * c.head_size * c.head_size;
    s.layer_floats = 2 * int64_t(c.n_embd) + s.wkv_floats;
    s.data = Buffer<float>(size_t(batch) * size_t(c.n_layer) * size_t(s.layer_floats));
    state_zero(m, s);
}

void state_zero(const Model& m, State& s) {
    std::memset(s.data.data(), 0, s.data.bytes());
    if (m.cfg.version != 4) return;
    // v4: pp starts at -1e30 (RWKV.md §2.2), after att_x, aa, bb.
    const int64_t D = m.cfg.n_embd, A = m.cfg.dim_att;
    for (int32_t b = 0; b < s.batch; ++b)
        for (int64_t l = 0; l < m.cfg.n_layer; ++l) {
            float* pp = s.stream_layer(b, l, m.cfg.n_layer) + D + 2 * A;
            for (int64_t c = 0; c < A; ++c) pp[c] = -1e30f;
        }
}

}  // namespace rwkvd
