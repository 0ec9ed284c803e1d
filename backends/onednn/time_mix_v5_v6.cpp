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
        for_each(R, D, [&](int64_t r, int64_t i) {
            const int64_t o = r * D + i;
            xk[o] = z[o] + dz[o] * L.mu_k[i];
            xv[o] = z[o] + dz[o] * L.mu_v[i];
            xr[o] = z[o] + dz[o] * L.mu_r[i];
            if (gate) xg[o] = z[o] + dz[o] * L.mu_g[i];
        });
    } else {
        // ξ = z + Δ⊙μx; h = tanh(ξ W1); m_s = h_s W2_s; x∘ = z + Δ⊙(μ∘ + m_∘), slots w,k,v,r,g.
        const int64_t Dm = c.lora_maa;
        lerp(z, dz, L.mu_x.data(), R, D, xf_.data());
        mm_.run(L.maa_w1, xf_.data(), R, D, lora_.data(), 5 * Dm);
        float* h = lora_.data();
        for_each(R, 5 * Dm, [&](int64_t r, int64_t j) { h[r * 5 * Dm + j] = std::tanh(h[r * 5 * Dm + j]); });
        float* outs[5] = {xw, xk, xv, xr, xg};
        for (int sl = 0; sl < 5; ++sl) mm_.run(L.maa_w2[sl], h + sl * Dm, R, 5 * Dm, outs[sl], D);
        for_each(R, D, [&](int64_t r, int64_t i) {
            const int64_t o = r * D + i;
            xw[o] = z[o] + dz[o] * (L.mu_w[i] + xw[o]);
            xk[o] = z[o] + dz[o] * (L.mu_k[i] + xk[o]);
            xv[o] = z[o] + dz[o] * (L.mu_v[i] + xv[o]);
            xr[o] = z[o] + dz[o] * (L.mu_r[i] + xr[o]);
            xg[o] = z[o] + dz[o] * (L.mu_g[i] + xg[o]);
        });
        // Per-token decay w = exp(-exp(d0 + tanh(xw Dw1) Dw2)), in f32 (RWKV.md §10.4).
        const int64_t Dd = c.lora_decay;
        mm_.run(L.decay_w1, xw, R, D, lora_.data(), Dd);
        float* hd = lora_.data();
        for_each(R, Dd, [&](int64_t r, int64_t j) { hd[r * Dd + j] = std::tanh(hd[r * Dd + j]); });
        mm_.run(L.decay_w2, hd, R, Dd, w_.data(), A);
        float* w = w_.data();
        for_each(R, A, [&](int64_t r, int64_t i) { w[r * A + i] = std::exp(-std::exp(L.decay[i] + w[r * A + i])); });
    }
    mm_.run(L.Wr, xr, R, D, r_.data(), A);
    mm_.run(L.Wk, xk, R, D, k_.data(), A);
    mm_.run(L.Wv, xv, R, D, v_.data(), A);
    if (gate) {
        mm_.run(L.Wg, xg, R, D, g_.data(), A);
        float* g = g_.data();
        for_each(R, A, [&](int64_t r, int64_t i) {
            const float v = g[r * A + i];
            g[r * A + i] = v * sigmoidf(v);
        });
    }

    parallel_for(B * H, [&](int64_t bh) {
        const int64_t b = bh / H, h = bh % H;
        {
            float* S = s.stream_layer(int32_t(b), l, c.n_layer) + D + h * N * N;
            const int64_t o = b * T * A + h * N;
            const float* w = v6 ? w_.data() + o : L.decay.data() + h * N;
            wkv5_head(T, N, r_.data() + o, k_.data() + o, v_.data() + o, A, w, v6 ? A : 0,
                      L.bonus.data() + h * N, S, y_.data() + o);
        }
    });
    group_norm(y_.data(), R, H, N, L.lnx_w.data(), L.lnx_b.data(), 64e-5f);
    float* y = y_.data();
    if (gate) {
        const float* g = g_.data();
        for_each(R, A, [&](int64_t r, int64_t i) { y[r * A + i] *= g[r * A + i]; });
    }
    mm_.run(L.Wo, y, R, A, xa_.data(), D);
    float* x = x_.data();
    const float* o = xa_.data();
    for_each(R, D, [&](int64_t r, int64_t i) { x[r * D + i] += o[r * D + i]; });
}

}  // namespace rwkvd
