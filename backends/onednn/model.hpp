// The model as this backend holds it (weights converted at load), its recurrent state, and the
// runner that executes forward() for B streams × T tokens with one shared layer loop.
#pragma once
#include "common.hpp"
#include "matmul.hpp"
#include "pool.hpp"

#include <rwkvbench/backend.h>

#include <cstdint>
#include <vector>

namespace rwkvd {

using Vec = std::vector<float>;

struct Layer {
    Vec ln1_w, ln1_b, ln2_w, ln2_b;
    // Time mix. Every lerp is kept in the v6/v7 form x = z + (prev - z) ⊙ μ (v4/v5 store 1 - μ).
    Vec mu_r, mu_k, mu_v, mu_g, mu_w, mu_a, mu_x;
    Linear Wr, Wk, Wv, Wg, Wo;
    Vec decay;  // v4: -exp(d); v5: exp(-exp(d)) per channel; v6: d0; v7: w0
    Vec bonus;  // v4: time_first; v5/v6: u per channel; v7: r_k
    Vec lnx_w, lnx_b;
    // v6 LoRA (at the weight dtype, f32 with int8 weights: model_load.cpp)
    Linear maa_w1, maa_w2[5], decay_w1, decay_w2;
    // v7
    Linear w1, w2, a1, a2, v1, v2, g1, g2;
    Vec a0, v0, k_k, k_a;
    // Channel mix
    Vec fmu_k, fmu_r;
    Linear Fk, Fr, Fv;
};

struct Model {
    rwkvb_model_config cfg{};
    WType wtype = WType::F32;
    Vec emb;  // ln0 already applied to every row
    Vec ln_out_w, ln_out_b;
    Linear head;
    std::vector<Layer> layers;
    uint64_t weight_bytes = 0;
};

// Builds the model from the checkpoint tensors; throws Error naming the tensor on bad input.
Model load_model(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n, WType wtype);

// Per stream and layer: [att_x D | wkv | ffn_x D], the canonical export layout of backend.h.
struct State {
    int32_t batch = 0;
    int64_t layer_floats = 0, wkv_floats = 0;
    Buffer<float> data;
    float* stream_layer(int32_t b, int64_t l, int64_t n_layer) {
        return data.data() + (int64_t(b) * n_layer + l) * layer_floats;
    }
};
void state_init(const Model& m, State& s, int32_t batch);
void state_zero(const Model& m, State& s);

// Scratch buffers, threads and the matmul engine; forward() for any version.
class Runner {
public:
    explicit Runner(const Model& m) : m_(m), mm_(par_) {}
    // tokens [batch][T]; logits [batch][rows][V] with rows per `which`.
    void forward(State& s, const int32_t* tokens, int64_t T, int32_t batch, float* logits, int which);
    Matmul& matmul() { return mm_; }
    // Threads of this runner (0 = the process default); applied to OpenMP at each forward().
    void set_threads(int n) { par_.set_threads(n); }
    int threads() const { return par_.threads(); }
    // profile=1: phases timed into p (null = off); see forward() for what "other" holds.
    void set_profile(rwkvb::PhaseProfile* p) {
        prof_ = p;
        mm_.set_profile(p);
    }
    uint64_t workspace_bytes() const;

private:
    void time_mix_v4(const Layer& L, State& s, int64_t l, int64_t B, int64_t T);
    void time_mix_v5(const Layer& L, State& s, int64_t l, int64_t B, int64_t T);  // 5.x and 6
    void time_mix_v7(const Layer& L, State& s, int64_t l, int64_t B, int64_t T);
    void channel_mix(const Layer& L, State& s, int64_t l, int64_t B, int64_t T);
    // z rows with previous rows: dz = prev - z, where row t = 0 of each stream takes the state
    // vector at `state_off`, which is then replaced by the stream's last z row.
    void shift(State& s, int64_t l, int64_t B, int64_t T, int64_t state_off);
    void ensure(int64_t rows);

    const Model& m_;
    Parallel par_;
    rwkvb::PhaseProfile* prof_ = nullptr;
    Matmul mm_;
    int64_t cap_rows_ = 0;
    // Row-major [rows][width] scratch; names follow RWKV.md.
    Buffer<float> x_, z_, dz_, xa_, xb_, xc_, xd_, xe_, xf_;
    Buffer<float> r_, k_, v_, g_, w_, y_, a_, kk_, vfirst_, big_, lora_;
};

}  // namespace rwkvd
