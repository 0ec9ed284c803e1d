// RWKV-7 time mixing (RWKV.md §5.2): six lerps, four LoRAs (decay, ICLR, value residual, gate),
// the normalised removal key, the diagonal-plus-rank-1 state update, GroupNorm, per-head bonus.
#include "model.hpp"
#include "norms.hpp"
#include "ops.hpp"
#include "pool.hpp"
#include "wkv.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rwkvd {

void Runner::time_mix_v7(const Layer& L, State& s, int64_t l, int64_t B, int64_t T) {
    const auto& c = m_.cfg;
    const int64_t D = c.n_embd, H = c.n_head, N = c.head_size, R = B * T;
    shift(s, l, B, T, 0);
    const float *z = z_.data(), *dz = dz_.data();
    float *xr = xa_.data(), *xw = xb_.data(), *xk = xc_.data(), *xv = xd_.data(), *xa = xe_.data(),
          *xg = xf_.data();
    for_each(R, D, [&](int64_t r, int64_t i) {  // six lerps, one pass over z and Δ
        const int64_t o = r * D + i;
        const float zz = z[o], d = dz[o];
        xr[o] = zz + d * L.mu_r[i];
        xw[o] = zz + d * L.mu_w[i];
        xk[o] = zz + d * L.mu_k[i];
        xv[o] = zz + d * L.mu_v[i];
        xa[o] = zz + d * L.mu_a[i];
        xg[o] = zz + d * L.mu_g[i];
    });
    float *r = r_.data(), *k = k_.data(), *v = v_.data(), *w = w_.data(), *a = a_.data(), *g = g_.data();
    float *lo = lora_.data(), *y = y_.data();
    mm_.run(L.Wr, xr, R, D, r, D);
    mm_.run(L.Wk, xk, R, D, k, D);
    mm_.run(L.Wv, xv, R, D, v, D);

    // Decay: w = exp(-0.606531·sigmoid(w0 + tanh(xw W1) W2)) — the official constant (RWKV.md §5.2).
    const int64_t Dw = c.lora_decay, Da = c.lora_iclr, Dv = c.lora_value, Dg = c.lora_gate;
    mm_.run(L.w1, xw, R, D, lo, Dw);
    for_each(R, Dw, [&](int64_t row, int64_t j) { lo[row * Dw + j] = std::tanh(lo[row * Dw + j]); });
    mm_.run(L.w2, lo, R, Dw, w, D);
    for_each(R, D, [&](int64_t row, int64_t i) {
        w[row * D + i] = std::exp(-0.606531f * sigmoidf(L.decay[i] + w[row * D + i]));
    });
    // In-context learning rate a = sigmoid(a0 + (xa A1) A2).
    mm_.run(L.a1, xa, R, D, lo, Da);
    mm_.run(L.a2, lo, R, Da, a, D);
    for_each(R, D, [&](int64_t row, int64_t i) { a[row * D + i] = sigmoidf(L.a0[i] + a[row * D + i]); });
    // Output gate g = sigmoid(xg G1) G2.
    mm_.run(L.g1, xg, R, D, lo, Dg);
    for_each(R, Dg, [&](int64_t row, int64_t j) { lo[row * Dg + j] = sigmoidf(lo[row * Dg + j]); });
    mm_.run(L.g2, lo, R, Dg, g, D);
    // Value residual: layer 0 keeps its v; later layers mix towards it.
    if (l == 0) {
        std::memcpy(vfirst_.data(), v, size_t(R * D) * sizeof(float));
    } else {
        float* vm = xr;  // xr is consumed; reuse it for (xv V1) V2
        mm_.run(L.v1, xv, R, D, lo, Dv);
        mm_.run(L.v2, lo, R, Dv, vm, D);
        const float* vf = vfirst_.data();
        for_each(R, D, [&](int64_t row, int64_t i) {
            const int64_t o = row * D + i;
            v[o] += (vf[o] - v[o]) * sigmoidf(L.v0[i] + vm[o]);
        });
    }
    // α = -κ̂, β = κ̂⊙a with κ = k⊙k_k normalised per head; then k̃ = k⊙(1 + (a-1)⊙k_a).
    float *alpha = kk_.data(), *beta = xw;  // xw is consumed
    for_each(R, H, [&](int64_t row, int64_t h) {
        const int64_t o = row * D + h * N;
        float ss = 0.f;
        for (int64_t j = 0; j < N; ++j) {
            const float kk = k[o + j] * L.k_k[h * N + j];
            alpha[o + j] = kk;
            ss += kk * kk;
        }
        const float inv = 1.f / std::max(std::sqrt(ss), 1e-12f);
        for (int64_t j = 0; j < N; ++j) {
            const float kh = alpha[o + j] * inv;
            alpha[o + j] = -kh;
            beta[o + j] = kh * a[o + j];
            k[o + j] *= 1.f + (a[o + j] - 1.f) * L.k_a[h * N + j];
        }
    });

    parallel_for(B * H, [&](int64_t bh) {
        const int64_t b = bh / H, h = bh % H;
        {
            float* S = s.stream_layer(int32_t(b), l, c.n_layer) + D + h * N * N;
            const int64_t o = b * T * D + h * N;
            wkv7_head(T, N, r + o, w + o, k + o, v + o, alpha + o, beta + o, D, S, y + o);
        }
    });
    group_norm(y, R, H, N, L.lnx_w.data(), L.lnx_b.data(), 64e-5f);
    // Bonus (after GN): y_h += (Σ_j r_j k̃_j r_k[h][j]) v_h; then the gate.
    for_each(R, H, [&](int64_t row, int64_t h) {
        const int64_t o = row * D + h * N;
        float sdot = 0.f;
        for (int64_t j = 0; j < N; ++j) sdot += r[o + j] * k[o + j] * L.bonus[h * N + j];
        for (int64_t j = 0; j < N; ++j) y[o + j] = (y[o + j] + sdot * v[o + j]) * g[o + j];
    });
    mm_.run(L.Wo, y, R, D, xa_.data(), D);
    float* x = x_.data();
    const float* o = xa_.data();
    for_each(R, D, [&](int64_t row, int64_t i) { x[row * D + i] += o[row * D + i]; });
}

}  // namespace rwkvd
