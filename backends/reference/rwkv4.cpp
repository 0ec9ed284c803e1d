// RWKV-4 time mixing (RWKV.md §2.2) and the v4/v5 channel mixing (§2.3).
#include <algorithm>
#include <cmath>

#include "pass.hpp"

namespace rwkvb_ref {

void time_mix_v4(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const int64_t D = P.m.cfg.n_embd, A = P.m.cfg.dim_att, R = P.R();
    double* xk = P.scratch.take(R * D);
    double* xv = P.scratch.take(R * D);
    double* xr = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.att_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) {
                xk[row * D + i] = zr[i] * L.mix_k[i] + p[i] * (1 - L.mix_k[i]);
                xv[row * D + i] = zr[i] * L.mix_v[i] + p[i] * (1 - L.mix_v[i]);
                xr[row * D + i] = zr[i] * L.mix_r[i] + p[i] * (1 - L.mix_r[i]);
            }
        }
    P.keep_last(z, &Pass::att_x, l);

    double* r = P.scratch.take(R * A);
    double* k = P.scratch.take(R * A);
    double* v = P.scratch.take(R * A);
    linear(P.pool, L.att_r, xr, R, r);
    linear(P.pool, L.att_k, xk, R, k);
    linear(P.pool, L.att_v, xv, R, v);

    // WKV in the running-max form; aa, bb, pp carried per channel.
    double* rwkv = P.scratch.take(R * A);
    for (int b = 0; b < P.B; ++b) {
        double* aa = P.wkv(b, l);
        double* bb = aa + A;
        double* pp = bb + A;
        for (int t = 0; t < P.T; ++t) {
            const int64_t o = (static_cast<int64_t>(b) * P.T + t) * A;
            for (int64_t c = 0; c < A; ++c) {
                const double kk = k[o + c], vv = v[o + c], w = L.decay[c], u = L.bonus[c];
                double ww = u + kk;
                double q = std::max(pp[c], ww);
                double e1 = std::exp(pp[c] - q), e2 = std::exp(ww - q);
                const double wkv = (e1 * aa[c] + e2 * vv) / (e1 * bb[c] + e2);
                ww = pp[c] + w;
                q = std::max(ww, kk);
                e1 = std::exp(ww - q);
                e2 = std::exp(kk - q);
                aa[c] = e1 * aa[c] + e2 * vv;
                bb[c] = e1 * bb[c] + e2;
                pp[c] = q;
                rwkv[o + c] = sigmoid(r[o + c]) * wkv;
            }
        }
    }
    linear(P.pool, L.att_o, rwkv, R, out);
}

void channel_mix_v4(Pass& P, int l, const double* z, double* out) {
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
                xk[row * D + i] = zr[i] * L.ffn_mix_k[i] + p[i] * (1 - L.ffn_mix_k[i]);
                xr[row * D + i] = zr[i] * L.ffn_mix_r[i] + p[i] * (1 - L.ffn_mix_r[i]);
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
