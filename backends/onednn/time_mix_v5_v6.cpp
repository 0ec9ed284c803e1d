// RWKV-5.x and RWKV-6 time mixing (RWKV.md §3.3, §4.2): they share the per-head matrix-state
// recurrence; v6 adds the data-dependent token shift (LoRA ×5) and a per-token decay.
#include "model.hpp"
#include "norms.hpp"
#include "ops.hpp"
#include "pool.hpp"
#include "wkv.hpp"

#include <cmath>

namespace rwkvd {

void Runner::time_mix_v5(const Layer& L, State& s, int64_t l, int64_t B, int64_t T) {
    const auto& c = m_.cfg;
    const int64_t D = c.n_embd, A = c.dim_att, H = c.n_head, N = c.head_size, R = B * T;
    const bool v6 = c.version == 6, gate = v6 || c.subversion >= 1;
    shift(s, l, B, T, 0);
    const float *z = z_.data(), *dz = dz_.data();
    float *xk = xa_.data(), *xv = xb_.data(), *xr = xc_.data(), *xg = xd_.data(), *xw = xe_.data();

    if (!v6) {
        if (gate)
            lerps<4>(par_, z, dz, R, D, {L.mu_k.data(), L.mu_v.data(), L.mu_r.data(), L.mu_g.data()}, {xk, xv, xr, xg});
        else
            lerps<3>(par_, z, dz, R, D, {L.mu_k.data(), L.mu_v.data(), L.mu_r.data()}, {xk, xv, xr});
    } else {
        // ξ = z + Δ⊙μx; h = tanh(ξ W1); m_s = h_s W2_s; x∘ = z + Δ⊙(μ∘ + m_∘), slots w,k,v,r,g.
        const int64_t Dm = c.lora_maa;
        lerp(par_, z, dz, L.mu_x.data(), R, D, xf_.data());
        mm_.run(L.maa_w1, xf_.data(), R, D, lora_.data(), 5 * Dm);
        float* h = lora_.data();
        map_inplace(par_, h, R, 5 * Dm, 5 * Dm, vm::tanh8);
        float* outs[5] = {xw, xk, xv, xr, xg};
        mm_.run({{&L.maa_w2[0], h, 5 * Dm, outs[0], D}, {&L.maa_w2[1], h + Dm, 5 * Dm, outs[1], D},
                 {&L.maa_w2[2], h + 2 * Dm, 5 * Dm, outs[2], D}, {&L.maa_w2[3], h + 3 * Dm, 5 * Dm, outs[3], D},
                 {&L.maa_w2[4], h + 4 * Dm, 5 * Dm, outs[4], D}},
                R);
        const float* mus[5] = {L.mu_w.data(), L.mu_k.data(), L.mu_v.data(), L.mu_r.data(), L.mu_g.data()};
        for_rows(par_, R, D, [&](int64_t row) {
            const int64_t o = row * D;
            vm::span8(D, [&](int64_t i, auto io) {
                const __m256 zz = io.ld(z + o + i), d = io.ld(dz + o + i);
                for (int sl = 0; sl < 5; ++sl) {
                    float* p = outs[sl] + o + i;
                    io.st(p, _mm256_fmadd_ps(d, _mm256_add_ps(io.ld(mus[sl] + i), io.ld(p)), zz));
                }
            });
        });
    }
    // r, k, v, g and v6's first decay product in one group (v5 has no decay_w1, v5.0 no Wg: empty
    // products are skipped).
    const int64_t Dd = c.lora_decay;
    mm_.run({{&L.Wr, xr, D, r_.data(), A}, {&L.Wk, xk, D, k_.data(), A}, {&L.Wv, xv, D, v_.data(), A},
             {&L.Wg, xg, D, g_.data(), A}, {&L.decay_w1, xw, D, lora_.data(), Dd}},
            R);
    if (v6) {  // per-token decay w = exp(-exp(d0 + tanh(xw Dw1) Dw2)), in f32 (RWKV.md §10.4)
        map_inplace(par_, lora_.data(), R, Dd, Dd, vm::tanh8);
        mm_.run(L.decay_w2, lora_.data(), R, Dd, w_.data(), A);
        float* w = w_.data();
        for_rows(par_, R, A, [&](int64_t row) {
            float* p = w + row * A;
            vm::span8(A, [&](int64_t i, auto io) {
                const __m256 e = vm::exp8(_mm256_add_ps(io.ld(L.decay.data() + i), io.ld(p + i)));
                io.st(p + i, vm::exp8(_mm256_sub_ps(_mm256_setzero_ps(), e)));
            });
        });
    }
    if (gate) {
        map_inplace(par_, g_.data(), R, A, A, [](__m256 v) { return _mm256_mul_ps(v, vm::sigmoid8(v)); });  // SiLU
    }

    {
        rwkvb::PhaseTimer timed(prof_, "wkv v5/v6");
        par_.run(B * H, [&](int64_t bh) {
            const int64_t b = bh / H, h = bh % H;
            float* S = s.stream_layer(int32_t(b), l, c.n_layer) + D + h * N * N;
            const int64_t o = b * T * A + h * N;
            const float* w = v6 ? w_.data() + o : L.decay.data() + h * N;
            wkv5_head(T, N, r_.data() + o, k_.data() + o, v_.data() + o, A, w, v6 ? A : 0,
                      L.bonus.data() + h * N, S, y_.data() + o);
        });
    }
    {
        rwkvb::PhaseTimer timed(prof_, "group norm");
        group_norm(y_.data(), R, H, N, L.lnx_w.data(), L.lnx_b.data(), 64e-5f);
    }
    float* y = y_.data();
    if (gate) {
        const float* g = g_.data();
        for_rows(par_, R, A, [&](int64_t row) {
            const int64_t o = row * A;
            vm::span8(A, [&](int64_t i, auto io) { io.st(y + o + i, _mm256_mul_ps(io.ld(y + o + i), io.ld(g + o + i))); });
        });
    }
    mm_.run(L.Wo, y, R, A, xa_.data(), D);
    add_to(par_, x_.data(), xa_.data(), R, D);
}

}  // namespace rwkvd
