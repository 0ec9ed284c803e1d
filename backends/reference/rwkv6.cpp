// RWKV-6 time mixing (RWKV.md §4.2) and channel mixing (§4.3).
#include <cmath>

#include "pass.hpp"

namespace rwkvb_ref {

void time_mix_v6(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const auto& c = P.m.cfg;
    const int64_t D = c.n_embd, A = c.dim_att, R = P.R(), Dm = c.lora_maa, Dd = c.lora_decay;

    // Δ = p - z and ξ = z + Δ⊙μx for every row
    double* delta = P.scratch.take(R * D);
    double* xi = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.att_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) {
                delta[row * D + i] = p[i] - zr[i];
                xi[row * D + i] = zr[i] + delta[row * D + i] * L.maa_x[i];
            }
        }
    P.keep_last(z, &Pass::att_x, l);

    // h = tanh(ξ @ time_maa_w1); m_s = h_s @ time_maa_w2[s], slots w, k, v, r, g
    double* h = P.scratch.take(R * 5 * Dm);
    row_times(P.pool, L.maa_w1, xi, R, h);
    for (int64_t i = 0; i < R * 5 * Dm; ++i) h[i] = std::tanh(h[i]);
    double* hs = P.scratch.take(R * Dm);
    const Vec* mu[5] = {&L.maa_w, &L.maa_k, &L.maa_v, &L.maa_r, &L.maa_g};
    double* xs[5];
    for (int s = 0; s < 5; ++s) {
        for (int64_t row = 0; row < R; ++row)
            for (int64_t j = 0; j < Dm; ++j) hs[row * Dm + j] = h[row * 5 * Dm + s * Dm + j];
        xs[s] = P.scratch.take(R * D);
        row_times(P.pool, L.maa_w2[s], hs, R, xs[s]);  // m_s
        for (int64_t row = 0; row < R; ++row)
            for (int64_t i = 0; i < D; ++i) {
                const int64_t e = row * D + i;
                xs[s][e] = z[e] + delta[e] * ((*mu[s])[i] + xs[s][e]);
            }
    }
    double *xw = xs[0], *xk = xs[1], *xv = xs[2], *xr = xs[3], *xg = xs[4];

    double* r = P.scratch.take(R * A);
    double* k = P.scratch.take(R * A);
    double* v = P.scratch.take(R * A);
    double* g = P.scratch.take(R * A);
    linear(P.pool, L.att_r, xr, R, r);
    linear(P.pool, L.att_k, xk, R, k);
    linear(P.pool, L.att_v, xv, R, v);
    linear(P.pool, L.att_g, xg, R, g);
    for (int64_t i = 0; i < R * A; ++i) g[i] = silu(g[i]);

    // d = time_decay + tanh(xw @ w1) @ w2;  w = exp(-exp(d)), per token and channel
    double* dh = P.scratch.take(R * Dd);
    row_times(P.pool, L.decay_w1, xw, R, dh);
    for (int64_t i = 0; i < R * Dd; ++i) dh[i] = std::tanh(dh[i]);
    double* w = P.scratch.take(R * A);
    row_times(P.pool, L.decay_w2, dh, R, w);
    for (int64_t row = 0; row < R; ++row)
        for (int64_t i = 0; i < A; ++i) w[row * A + i] = std::exp(-std::exp(L.decay[i] + w[row * A + i]));

    double* y = P.scratch.take(R * A);
    for_each_stream_head(P, [&](int b, int hd) {
        wkv_v5_head(P, l, b, hd, r, k, v, w, A, L.bonus.data(), y);
    });

    double* o = P.scratch.take(R * A);
    for (int64_t row = 0; row < R; ++row) {
        group_norm(y + row * A, L.lnx_w.data(), L.lnx_b.data(), c.n_head, c.head_size, kGnEps, o + row * A);
        for (int64_t i = 0; i < A; ++i) o[row * A + i] *= g[row * A + i];
    }
    linear(P.pool, L.att_o, o, R, out);
}

void channel_mix_v6(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const int64_t D = P.m.cfg.n_embd, F = P.m.cfg.dim_ffn, R = P.R();
    double* xk = P.scratch.take(R * D);
    double* xr = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.ffn_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) {
                const double d = p[i] - zr[i];
                xk[row * D + i] = zr[i] + d * L.ffn_mix_k[i];
                xr[row * D + i] = zr[i] + d * L.ffn_mix_r[i];
            }
        }
    P.keep_last(z, &Pass::ffn_x, l);

    double* r = P.scratch.take(R * D);
    double* h = P.scratch.take(R * F);
    linear(P.pool, L.ffn_r, xr, R, r);
    linear(P.pool, L.ffn_k, xk, R, h);
    for (int64_t i = 0; i < R * F; ++i) h[i] = relu2(h[i]);
    linear(P.pool, L.ffn_v, h, R, out);
    for (int64_t i = 0; i < R * D; ++i) out[i] *= sigmoid(r[i]);
}

}  // namespace rwkvb_ref
