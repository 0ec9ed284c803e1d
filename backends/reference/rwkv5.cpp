// RWKV-5 time mixing, 5.0 / 5.1 / 5.2 (RWKV.md §3.3). Channel mixing is v4's (§3.5).
#include "pass.hpp"

namespace rwkvb_ref {

// One head over the T rows of stream b: y_t = r_t^T (diag(u) k_t v_t^T + S), S ← diag(w) S + k_t v_t^T,
// S[i][j] with i = key index, j = value index. `w_row` is 0 for a static decay (v5) or the row
// stride of a per-token decay (v6).
void wkv_v5_head(Pass& P, int l, int b, int h, const double* r, const double* k, const double* v,
                 const double* w, int64_t w_row, const double* u, double* y) {
    const int64_t A = P.m.cfg.dim_att, N = P.m.cfg.head_size;
    double* S = P.wkv(b, l) + h * N * N;
    for (int t = 0; t < P.T; ++t) {
        const int64_t o = (static_cast<int64_t>(b) * P.T + t) * A + h * N;
        const double* wt = w + (w_row ? (static_cast<int64_t>(b) * P.T + t) * w_row : 0) + h * N;
        const double* vt = v + o;
        double* yt = y + o;
        for (int64_t j = 0; j < N; ++j) yt[j] = 0;
        for (int64_t i = 0; i < N; ++i) {
            const double ri = r[o + i], ki = k[o + i], uk = u[h * N + i] * ki, wi = wt[i];
            double* Si = S + i * N;
            for (int64_t j = 0; j < N; ++j) {
                yt[j] += ri * (uk * vt[j] + Si[j]);
                Si[j] = wi * Si[j] + ki * vt[j];
            }
        }
    }
}

void time_mix_v5(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const auto& c = P.m.cfg;
    const int64_t D = c.n_embd, A = c.dim_att, R = P.R();
    const bool gated = c.subversion >= 1;
    double* xk = P.scratch.take(R * D);
    double* xv = P.scratch.take(R * D);
    double* xr = P.scratch.take(R * D);
    double* xg = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.att_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) {
                xk[row * D + i] = zr[i] * L.mix_k[i] + p[i] * (1 - L.mix_k[i]);
                xv[row * D + i] = zr[i] * L.mix_v[i] + p[i] * (1 - L.mix_v[i]);
                xr[row * D + i] = zr[i] * L.mix_r[i] + p[i] * (1 - L.mix_r[i]);
                if (gated) xg[row * D + i] = zr[i] * L.mix_g[i] + p[i] * (1 - L.mix_g[i]);
            }
        }
    P.keep_last(z, &Pass::att_x, l);

    double* r = P.scratch.take(R * A);
    double* k = P.scratch.take(R * A);
    double* v = P.scratch.take(R * A);
    double* g = P.scratch.take(R * A);
    linear(P.pool, L.att_r, xr, R, r);  // no sigmoid on r from v5 on
    linear(P.pool, L.att_k, xk, R, k);
    linear(P.pool, L.att_v, xv, R, v);
    if (gated) {
        linear(P.pool, L.att_g, xg, R, g);
        for (int64_t i = 0; i < R * A; ++i) g[i] = silu(g[i]);
    }

    double* y = P.scratch.take(R * A);
    for_each_stream_head(P, [&](int b, int h) {
        wkv_v5_head(P, l, b, h, r, k, v, L.decay.data(), 0, L.bonus.data(), y);
    });

    double* o = P.scratch.take(R * A);
    for (int64_t row = 0; row < R; ++row) {
        group_norm(y + row * A, L.lnx_w.data(), L.lnx_b.data(), c.n_head, c.head_size, kGnEps, o + row * A);
        if (gated)
            for (int64_t i = 0; i < A; ++i) o[row * A + i] *= g[row * A + i];
    }
    linear(P.pool, L.att_o, o, R, out);
}

}  // namespace rwkvb_ref
