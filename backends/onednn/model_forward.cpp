// The shared layer loop for every version: embedding → L × (LN, time mix, LN, channel mix)
// → LN → head. Rows are [stream][token] (row = b·T + t); T = 1 is decode, T > 1 sequence mode.
#include "model.hpp"
#include "norms.hpp"
#include "ops.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace rwkvd {

void Runner::ensure(int64_t rows) {
    if (rows <= cap_rows_) return;
    const auto& c = m_.cfg;
    const int64_t w = std::max(c.n_embd, c.dim_att);
    // v6: the five mixes' intermediates side by side, or its decay's; v7: its four side by side.
    const int64_t lora = std::max({int64_t(5) * c.lora_maa, int64_t(c.lora_decay),
                                   int64_t(c.lora_decay) + c.lora_iclr + c.lora_value + c.lora_gate, int64_t(1)});
    for (Buffer<float>* b : {&x_, &z_, &dz_, &xa_, &xb_, &xc_, &xd_, &xe_, &xf_, &r_, &k_, &v_, &g_, &w_,
                             &y_, &a_, &kk_, &vfirst_})
        b->resize(size_t(rows * w));
    big_.resize(size_t(rows * c.dim_ffn));
    lora_.resize(size_t(rows * lora));
    cap_rows_ = rows;
}

uint64_t Runner::workspace_bytes() const {
    uint64_t b = mm_.workspace_bytes() + big_.bytes() + lora_.bytes();
    for (const Buffer<float>* p : {&x_, &z_, &dz_, &xa_, &xb_, &xc_, &xd_, &xe_, &xf_, &r_, &k_, &v_, &g_,
                                   &w_, &y_, &a_, &kk_, &vfirst_})
        b += p->bytes();
    return b;
}

void Runner::shift(State& s, int64_t l, int64_t B, int64_t T, int64_t state_off) {
    const int64_t D = m_.cfg.n_embd, L = m_.cfg.n_layer;
    const float* z = z_.data();
    float* dz = dz_.data();
    // Row r = b·T + t takes its previous row from z (t > 0) or from the stream's state (t = 0).
    for_rows(par_, B * T, D, [&](int64_t r) {
        const int64_t b = r / T, t = r % T;
        const float* prev = t ? z + (r - 1) * D : s.stream_layer(int32_t(b), l, L) + state_off;
        vm::span8(D, [&](int64_t i, auto io) {
            io.st(dz + r * D + i, _mm256_sub_ps(io.ld(prev + i), io.ld(z + r * D + i)));
        });
    });
    for (int64_t b = 0; b < B; ++b)
        std::memcpy(s.stream_layer(int32_t(b), l, L) + state_off, z + (b * T + T - 1) * D, size_t(D) * sizeof(float));
}

void Runner::channel_mix(const Layer& L, State& s, int64_t l, int64_t B, int64_t T) {
    const int64_t D = m_.cfg.n_embd, F = m_.cfg.dim_ffn, R = B * T;
    shift(s, l, B, T, D + s.wkv_floats);
    const bool v7 = m_.cfg.version == 7;
    if (v7) {  // no receptance: the key alone
        lerp(par_, z_.data(), dz_.data(), L.fmu_k.data(), R, D, xa_.data());
        mm_.run(L.Fk, xa_.data(), R, D, big_.data(), F);
    } else {  // the receptance's lerp and product run with the key's
        lerps<2>(par_, z_.data(), dz_.data(), R, D, {L.fmu_k.data(), L.fmu_r.data()}, {xa_.data(), xb_.data()});
        mm_.run({{&L.Fk, xa_.data(), D, big_.data(), F}, {&L.Fr, xb_.data(), D, r_.data(), D}}, R);
    }
    map_inplace(par_, big_.data(), R, F, F, [](__m256 h) {  // relu(h)²
        h = _mm256_max_ps(h, _mm256_setzero_ps());
        return _mm256_mul_ps(h, h);
    });
    mm_.run(L.Fv, big_.data(), R, F, v_.data(), D);
    if (v7) return add_to(par_, x_.data(), v_.data(), R, D);
    float* x = x_.data();
    const float *v = v_.data(), *rr = r_.data();
    for_rows(par_, R, D, [&](int64_t r) {  // x += sigmoid(r) ⊙ v
        const int64_t o = r * D;
        vm::span8(D, [&](int64_t i, auto io) {
            io.st(x + o + i, _mm256_fmadd_ps(vm::sigmoid8(io.ld(rr + o + i)), io.ld(v + o + i), io.ld(x + o + i)));
        });
    });
}

void Runner::forward(State& s, const int32_t* tokens, int64_t T, int32_t batch, float* logits, int which) {
    const auto& c = m_.cfg;
    const int64_t D = c.n_embd, V = c.vocab_size, B = batch, R = B * T;
    for (int64_t i = 0; i < R; ++i)
        if (tokens[i] < 0 || tokens[i] >= V)
            throw Error(RWKVB_ERR_INVALID_ARGUMENT, "token " + std::to_string(tokens[i]) + " at position " +
                        std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    ensure(R);
    // profile=1: what no phase below times (embedding rows, token shift, lerps, activations,
    // residual adds: the elementwise passes) is booked under one name.
    rwkvb::PhaseRemainder other(prof_, "elementwise and other");
    // Many rows: every parallel loop on OpenMP, whose team the GEMMs keep awake; few rows
    // (decode): our pool (pool.hpp). OpenMP's count is per calling thread, so set it each call.
    par_.use_openmp(R > Matmul::kGemvMaxRows);
    omp_set_num_threads(par_.threads());
    for (int64_t i = 0; i < R; ++i)
        std::memcpy(x_.data() + i * D, m_.emb.data() + int64_t(tokens[i]) * D, size_t(D) * sizeof(float));

    for (int64_t l = 0; l < c.n_layer; ++l) {
        const Layer& L = m_.layers[size_t(l)];
        {
            rwkvb::PhaseTimer timed(prof_, "layer norm");
            layer_norm(x_.data(), R, D, D, L.ln1_w.data(), L.ln1_b.data(), z_.data(), D);
        }
        if (c.version == 4) time_mix_v4(L, s, l, B, T);
        else if (c.version == 7) time_mix_v7(L, s, l, B, T);
        else time_mix_v5(L, s, l, B, T);
        {
            rwkvb::PhaseTimer timed(prof_, "layer norm");
            layer_norm(x_.data(), R, D, D, L.ln2_w.data(), L.ln2_b.data(), z_.data(), D);
        }
        channel_mix(L, s, l, B, T);
    }

    if (which == RWKVB_LOGITS_NONE) return;
    if (which == RWKVB_LOGITS_ALL) {
        {
            rwkvb::PhaseTimer timed(prof_, "layer norm");
            layer_norm(x_.data(), R, D, D, m_.ln_out_w.data(), m_.ln_out_b.data(), z_.data(), D);
        }
        mm_.run(m_.head, z_.data(), R, D, logits, V);
        return;
    }
    // LAST: the last row of every stream (row stride T·D in x).
    {
        rwkvb::PhaseTimer timed(prof_, "layer norm");
        layer_norm(x_.data() + (T - 1) * D, B, D, T * D, m_.ln_out_w.data(), m_.ln_out_b.data(), z_.data(), D);
    }
    mm_.run(m_.head, z_.data(), B, D, logits, V);
}

}  // namespace rwkvd
