#include "model.hpp"

#include <cmath>
#include <map>
#include <string_view>

namespace rwkvb_ref {
namespace {

std::string shape_str(const rwkvb_tensor& t) {
    std::string s = "[";
    for (int d = 0; d < t.ndim; ++d) s += (d ? "," : "") + std::to_string(t.shape[d]);
    return s + "]";
}

// Name → tensor, with checks shared by every lookup.
class Tensors {
public:
    Tensors(const rwkvb_tensor* t, size_t n) {
        if (n > 0 && !t) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "load: tensors is NULL");
        for (size_t i = 0; i < n; ++i) {
            if (!t[i].name) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor " + std::to_string(i) + " has no name");
            by_name_[t[i].name] = &t[i];
        }
    }

    bool has(const std::string& name) const { return by_name_.count(name) != 0; }
    bool any_contains(std::string_view part) const {
        for (const auto& [name, t] : by_name_)
            if (name.find(part) != std::string::npos) return true;
        return false;
    }

    // The tensor, checked: float dtype, sane dims, bytes == numel × element size, numel == want.
    const rwkvb_tensor& get(const std::string& name, int64_t want_numel) const {
        auto it = by_name_.find(name);
        if (it == by_name_.end())
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "' is missing from the checkpoint");
        const rwkvb_tensor& t = *it->second;
        const size_t es = float_dtype_size(t.dtype);
        if (es == 0)
            throw Error(RWKVB_ERR_UNSUPPORTED, "tensor '" + name + "' is stored as dtype " + std::to_string(t.dtype) +
                                                   "; the golden reference needs F64, F32, F16 or BF16 values");
        if (t.ndim < 0 || t.ndim > 4) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "' has a bad ndim");
        int64_t numel = 1;
        for (int d = 0; d < t.ndim; ++d) {
            if (t.shape[d] < 0) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "' has a negative dimension");
            numel *= t.shape[d];
        }
        if (numel != want_numel)
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "' has shape " + shape_str(t) + " (" +
                                                        std::to_string(numel) + " elements); the config needs " +
                                                        std::to_string(want_numel));
        if (t.nbytes != static_cast<uint64_t>(numel) * es || (numel > 0 && !t.data))
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "tensor '" + name + "': byte size or data pointer does not match its shape");
        return t;
    }

    Mat mat(const std::string& name, int64_t rows, int64_t cols) const {
        const rwkvb_tensor& t = get(name, rows * cols);
        return Mat{static_cast<const std::byte*>(t.data), t.dtype, rows, cols};
    }

    Vec vec(const std::string& name, int64_t n, size_t& converted) const {
        const rwkvb_tensor& t = get(name, n);
        Vec v(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) v[i] = element_as_double(t.dtype, t.data, static_cast<size_t>(i));
        converted += v.size() * sizeof(double);
        return v;
    }

private:
    std::map<std::string, const rwkvb_tensor*, std::less<>> by_name_;
};

void check_config(const rwkvb_model_config& c) {
    auto bad = [](const std::string& m) { throw Error(RWKVB_ERR_INVALID_ARGUMENT, "model config: " + m); };
    if (c.version < 4 || c.version > 7)
        throw Error(RWKVB_ERR_UNSUPPORTED, "model config: RWKV version " + std::to_string(c.version) +
                                               " is not one of 4, 5, 6, 7");
    if (c.version == 5 && (c.subversion < 0 || c.subversion > 2)) bad("v5 subversion must be 0, 1 or 2");
    if (c.n_layer <= 0 || c.n_embd <= 0 || c.dim_att <= 0 || c.dim_ffn <= 0 || c.vocab_size <= 0)
        bad("n_layer, n_embd, dim_att, dim_ffn and vocab_size must be positive");
    if (c.version >= 5 && (c.n_head <= 0 || c.head_size <= 0 || c.n_head * c.head_size != c.dim_att))
        bad("n_head × head_size must equal dim_att for v5+");
    if (c.version == 6 && (c.lora_maa <= 0 || c.lora_decay <= 0)) bad("v6 needs positive lora_maa and lora_decay");
    if (c.version == 7 && (c.dim_att != c.n_embd || c.lora_decay <= 0 || c.lora_iclr <= 0 || c.lora_gate <= 0 ||
                           c.lora_value < 0))
        bad("v7 needs dim_att == n_embd and positive LoRA ranks");
}

}  // namespace

Model build_model(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n) {
    check_config(cfg);
    const Tensors t(tensors, n);
    Model m;
    m.cfg = cfg;
    const int64_t D = cfg.n_embd, A = cfg.dim_att, F = cfg.dim_ffn, V = cfg.vocab_size;
    const int64_t H = cfg.n_head, N = cfg.head_size;
    size_t& cb = m.converted_bytes;

    m.emb = t.mat("emb.weight", V, D);
    m.head = t.mat("head.weight", V, D);
    m.ln0_w = t.vec("blocks.0.ln0.weight", D, cb);
    m.ln0_b = t.vec("blocks.0.ln0.bias", D, cb);
    m.ln_out_w = t.vec("ln_out.weight", D, cb);
    m.ln_out_b = t.vec("ln_out.bias", D, cb);
    // v5 bonus: time_faaaa as is when the file has it anywhere, else exp(time_first) (pip rule).
    const bool v5_faaaa = cfg.version == 5 && t.any_contains("time_faaaa");

    for (int l = 0; l < cfg.n_layer; ++l) {
        const std::string p = "blocks." + std::to_string(l) + ".";
        const std::string a = p + "att.", f = p + "ffn.";
        Layer L;
        L.ln1_w = t.vec(p + "ln1.weight", D, cb);
        L.ln1_b = t.vec(p + "ln1.bias", D, cb);
        L.ln2_w = t.vec(p + "ln2.weight", D, cb);
        L.ln2_b = t.vec(p + "ln2.bias", D, cb);
        L.ffn_k = t.mat(f + "key.weight", F, D);
        L.ffn_v = t.mat(f + "value.weight", D, F);

        if (cfg.version == 4 || cfg.version == 5) {
            L.mix_k = t.vec(a + "time_mix_k", D, cb);
            L.mix_v = t.vec(a + "time_mix_v", D, cb);
            L.mix_r = t.vec(a + "time_mix_r", D, cb);
            L.att_r = t.mat(a + "receptance.weight", A, D);
            L.att_k = t.mat(a + "key.weight", A, D);
            L.att_v = t.mat(a + "value.weight", A, D);
            L.att_o = t.mat(a + "output.weight", D, A);
            L.ffn_mix_k = t.vec(f + "time_mix_k", D, cb);
            L.ffn_mix_r = t.vec(f + "time_mix_r", D, cb);
            L.ffn_r = t.mat(f + "receptance.weight", D, D);
        }
        if (cfg.version == 4) {
            L.decay = t.vec(a + "time_decay", A, cb);
            for (double& w : L.decay) w = -std::exp(w);
            L.bonus = t.vec(a + "time_first", A, cb);
        } else if (cfg.version == 5) {
            const bool per_channel = cfg.subversion == 2;
            const int64_t nd = per_channel ? A : H;
            Vec d = t.vec(a + "time_decay", nd, cb);
            Vec u = v5_faaaa ? t.vec(a + "time_faaaa", nd, cb) : t.vec(a + "time_first", nd, cb);
            if (!v5_faaaa)
                for (double& x : u) x = std::exp(x);
            L.decay.resize(A);
            L.bonus.resize(A);
            for (int64_t c = 0; c < A; ++c) {  // 5.0/5.1: one value per head, broadcast over N
                const int64_t src = per_channel ? c : c / N;
                L.decay[c] = std::exp(-std::exp(d[src]));
                L.bonus[c] = u[src];
            }
            cb += 2 * A * sizeof(double);
            L.lnx_w = t.vec(a + "ln_x.weight", A, cb);
            L.lnx_b = t.vec(a + "ln_x.bias", A, cb);
            if (cfg.subversion >= 1) {
                L.mix_g = t.vec(a + "time_mix_g", D, cb);
                L.att_g = t.mat(a + "gate.weight", A, D);
            }
        } else if (cfg.version == 6) {
            const int64_t Dm = cfg.lora_maa, Dd = cfg.lora_decay;
            L.maa_x = t.vec(a + "time_maa_x", D, cb);
            L.maa_w = t.vec(a + "time_maa_w", D, cb);
            L.maa_k = t.vec(a + "time_maa_k", D, cb);
            L.maa_v = t.vec(a + "time_maa_v", D, cb);
            L.maa_r = t.vec(a + "time_maa_r", D, cb);
            L.maa_g = t.vec(a + "time_maa_g", D, cb);
            L.maa_w1 = t.mat(a + "time_maa_w1", D, 5 * Dm);
            const Mat w2 = t.mat(a + "time_maa_w2", 5 * Dm, D);
            for (int s = 0; s < 5; ++s) L.maa_w2[s] = w2.rows_slice(s * Dm, Dm);
            L.decay = t.vec(a + "time_decay", A, cb);
            L.decay_w1 = t.mat(a + "time_decay_w1", D, Dd);
            L.decay_w2 = t.mat(a + "time_decay_w2", Dd, A);
            L.bonus = t.vec(a + "time_faaaa", A, cb);
            L.att_r = t.mat(a + "receptance.weight", A, D);
            L.att_k = t.mat(a + "key.weight", A, D);
            L.att_v = t.mat(a + "value.weight", A, D);
            L.att_g = t.mat(a + "gate.weight", A, D);
            L.att_o = t.mat(a + "output.weight", D, A);
            L.lnx_w = t.vec(a + "ln_x.weight", A, cb);
            L.lnx_b = t.vec(a + "ln_x.bias", A, cb);
            L.ffn_mix_k = t.vec(f + "time_maa_k", D, cb);
            L.ffn_mix_r = t.vec(f + "time_maa_r", D, cb);
            L.ffn_r = t.mat(f + "receptance.weight", D, D);
        } else {  // v7
            const int64_t Dw = cfg.lora_decay, Da = cfg.lora_iclr, Dv = cfg.lora_value, Dg = cfg.lora_gate;
            L.x_r = t.vec(a + "x_r", D, cb);
            L.x_w = t.vec(a + "x_w", D, cb);
            L.x_k = t.vec(a + "x_k", D, cb);
            L.x_v = t.vec(a + "x_v", D, cb);
            L.x_a = t.vec(a + "x_a", D, cb);
            L.x_g = t.vec(a + "x_g", D, cb);
            L.w0 = t.vec(a + "w0", D, cb);
            L.w1 = t.mat(a + "w1", D, Dw);
            L.w2 = t.mat(a + "w2", Dw, D);
            L.a0 = t.vec(a + "a0", D, cb);
            L.a1 = t.mat(a + "a1", D, Da);
            L.a2 = t.mat(a + "a2", Da, D);
            if (l > 0) {  // block 0's value-residual LoRA is never used (RWKV.md §5.1)
                if (Dv <= 0) throw Error(RWKVB_ERR_INVALID_ARGUMENT, "model config: v7 with more than one layer needs lora_value > 0");
                L.v0 = t.vec(a + "v0", D, cb);
                L.v1 = t.mat(a + "v1", D, Dv);
                L.v2 = t.mat(a + "v2", Dv, D);
            }
            L.g1 = t.mat(a + "g1", D, Dg);
            L.g2 = t.mat(a + "g2", Dg, D);
            L.k_k = t.vec(a + "k_k", D, cb);
            L.k_a = t.vec(a + "k_a", D, cb);
            L.r_k = t.vec(a + "r_k", A, cb);
            L.att_r = t.mat(a + "receptance.weight", A, D);
            L.att_k = t.mat(a + "key.weight", A, D);
            L.att_v = t.mat(a + "value.weight", A, D);
            L.att_o = t.mat(a + "output.weight", D, A);
            L.lnx_w = t.vec(a + "ln_x.weight", A, cb);
            L.lnx_b = t.vec(a + "ln_x.bias", A, cb);
            L.ffn_mix_k = t.vec(f + "x_k", D, cb);
        }
        m.layers.push_back(std::move(L));
    }
    return m;
}

}  // namespace rwkvb_ref
