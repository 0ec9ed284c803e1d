// The checkpoint as the golden reference uses it: matrices are views into the caller's tensors
// (the ABI keeps them valid until destroy), small per-channel vectors are upcast once to
// float64 with the load-time transforms of RWKV.md (-exp(time_decay) for v4, exp(-exp(·)) for
// v5, exp(time_first) for v5 without time_faaaa). Nothing is rounded.
#pragma once
#include <rwkvbench/backend.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.hpp"

namespace rwkvb_ref {

// An error that crosses the ABI as a status and one line of text.
struct Error : std::runtime_error {
    Error(rwkvb_status s, const std::string& what) : std::runtime_error(what), status(s) {}
    rwkvb_status status;
};

using Vec = std::vector<double>;

struct Layer {
    Vec ln1_w, ln1_b, ln2_w, ln2_b;

    // time mix, v4/v5: static lerp weights (time_mix_*)
    Vec mix_k, mix_v, mix_r, mix_g;
    // v4: w = -exp(time_decay), u = time_first.  v5: w = exp(-exp(time_decay)), u (both [A]).
    // v6: w holds the raw time_decay bias, u = time_faaaa.
    Vec decay, bonus;
    Mat att_r, att_k, att_v, att_o, att_g;  // att_g: v5.1+, v6 (rows == 0 when absent)
    Vec lnx_w, lnx_b;                       // v5+

    // v6 data-dependent token shift and decay
    Vec maa_x, maa_w, maa_k, maa_v, maa_r, maa_g;
    Mat maa_w1;      // [D, 5·Dm]
    Mat maa_w2[5];   // 5 × [Dm, D], slot order w, k, v, r, g
    Mat decay_w1, decay_w2;

    // v7
    Vec x_r, x_w, x_k, x_v, x_a, x_g, w0, a0, v0, k_k, k_a, r_k;
    Mat w1, w2, a1, a2, v1, v2, g1, g2;  // v1/v2 unused (and may be absent) in block 0

    // channel mix: v4/v5 time_mix_k/r, v6 time_maa_k/r, v7 x_k (in ffn_mix_k)
    Vec ffn_mix_k, ffn_mix_r;
    Mat ffn_k, ffn_r, ffn_v;  // ffn_r absent in v7
};

struct Model {
    rwkvb_model_config cfg{};
    Mat emb, head;
    Vec ln0_w, ln0_b, ln_out_w, ln_out_b;
    std::vector<Layer> layers;
    size_t converted_bytes = 0;  // float64 copies of small vectors (the only weight memory held)
};

// Validates every tensor the config needs (present, float dtype, element count) and builds
// the model. Throws Error naming the tensor and the problem.
Model build_model(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n);

}  // namespace rwkvb_ref
