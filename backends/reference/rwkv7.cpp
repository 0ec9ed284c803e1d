// RWKV-7 time mixing (RWKV.md §5.2) and channel mixing (§5.3).
#include <algorithm>
#include <cmath>

#include "pass.hpp"

namespace rwkvb_ref {
namespace {

// Y = f(X @ M1) @ M2 for the small LoRA pairs; f applied in place between the two products.
template <class F>
void lora(Pass& P, const Mat& M1, const Mat& M2, const double* X, double* Y, F f) {
    const int64_t R = P.R();
    double* hidden = P.scratch.take(R * M1.cols);
    row_times(P.pool, M1, X, R, hidden);
    for (int64_t i = 0; i < R * M1.cols; ++i) hidden[i] = f(hidden[i]);
    row_times(P.pool, M2, hidden, R, Y);
}

}  // namespace

void time_mix_v7(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const auto& c = P.m.cfg;
    const int64_t D = c.n_embd, A = c.dim_att, R = P.R(), H = c.n_head, N = c.head_size;

    // x∘ = z + Δ⊙x_∘, Δ = p - z
    double* x[6];
    const Vec* mu[6] = {&L.x_r, &L.x_w, &L.x_k, &L.x_v, &L.x_a, &L.x_g};
    for (auto& b : x) b = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.att_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) {
                const double d = p[i] - zr[i];
                for (int s = 0; s < 6; ++s) x[s][row * D + i] = zr[i] + d * (*mu[s])[i];
            }
        }
    P.keep_last(z, &Pass::att_x, l);
    const double *xr = x[0], *xw = x[1], *xk = x[2], *xv = x[3], *xa = x[4], *xg = x[5];

    double* r = P.scratch.take(R * A);
    double* k = P.scratch.take(R * A);
    double* v = P.scratch.take(R * A);
    linear(P.pool, L.att_r, xr, R, r);
    linear(P.pool, L.att_k, xk, R, k);
    linear(P.pool, L.att_v, xv, R, v);

    double* w = P.scratch.take(R * A);  // decay: exp(-0.606531·sigmoid(w0 + tanh(xw@w1)@w2))
    lora(P, L.w1, L.w2, xw, w, [](double q) { return std::tanh(q); });
    double* a = P.scratch.take(R * A);  // in-context learning rate: sigmoid(a0 + (xa@a1)@a2)
    lora(P, L.a1, L.a2, xa, a, [](double q) { return q; });
    double* g = P.scratch.take(R * A);  // output gate: sigmoid(xg@g1)@g2
    lora(P, L.g1, L.g2, xg, g, [](double q) { return sigmoid(q); });
    double* vgate = nullptr;            // value residual: sigmoid(v0 + (xv@v1)@v2), layers > 0
    if (l > 0) {
        vgate = P.scratch.take(R * A);
        lora(P, L.v1, L.v2, xv, vgate, [](double q) { return q; });
    }

    double* kk = P.scratch.take(R * A);  // κ̂: normalised removal key (from k before k̃)
    for (int64_t row = 0; row < R; ++row) {
        const int64_t o = row * A;
        for (int64_t i = 0; i < A; ++i) {
            w[o + i] = std::exp(-kV7DecayScale * sigmoid(L.w0[i] + w[o + i]));
            a[o + i] = sigmoid(L.a0[i] + a[o + i]);
            kk[o + i] = k[o + i] * L.k_k[i];
        }
        for (int64_t h = 0; h < H; ++h) {
            double ss = 0;
            for (int64_t j = 0; j < N; ++j) ss += kk[o + h * N + j] * kk[o + h * N + j];
            const double norm = std::max(std::sqrt(ss), 1e-12);
            for (int64_t j = 0; j < N; ++j) kk[o + h * N + j] /= norm;
        }
        for (int64_t i = 0; i < A; ++i) {
            k[o + i] = k[o + i] * (1 + (a[o + i] - 1) * L.k_a[i]);  // k̃
            if (l == 0)
                P.v_first[o + i] = v[o + i];
            else
                v[o + i] = v[o + i] + (P.v_first[o + i] - v[o + i]) * sigmoid(L.v0[i] + vgate[o + i]);
        }
    }

    // S[i][j], i = value index, j = key index: S ← S·diag(w) + (S α) β^T + v k̃^T; y = S r.
    double* y = P.scratch.take(R * A);
    for_each_stream_head(P, [&](int b, int h) {
        double* S = P.wkv(b, l) + h * N * N;
        for (int t = 0; t < P.T; ++t) {
            const int64_t o = (static_cast<int64_t>(b) * P.T + t) * A + h * N;
            const double *wt = w + o, *kt = k + o, *vt = v + o, *rt = r + o, *kkt = kk + o, *at = a + o;
            for (int64_t i = 0; i < N; ++i) {
                double* Si = S + i * N;
                double sa = 0;
                for (int64_t j = 0; j < N; ++j) sa += Si[j] * -kkt[j];
                double yi = 0;
                for (int64_t j = 0; j < N; ++j) {
                    Si[j] = Si[j] * wt[j] + sa * (kkt[j] * at[j]) + vt[i] * kt[j];
                    yi += Si[j] * rt[j];
                }
                y[o + i] = yi;
            }
        }
    });

    double* o = P.scratch.take(R * A);
    for (int64_t row = 0; row < R; ++row) {
        const int64_t base = row * A;
        group_norm(y + base, L.lnx_w.data(), L.lnx_b.data(), H, N, kGnEps, o + base);
        for (int64_t h = 0; h < H; ++h) {  // bonus (r·k̃·r_k) v, added after the GroupNorm
            double s = 0;
            for (int64_t j = 0; j < N; ++j) s += r[base + h * N + j] * k[base + h * N + j] * L.r_k[h * N + j];
            for (int64_t j = 0; j < N; ++j) o[base + h * N + j] += s * v[base + h * N + j];
        }
        for (int64_t i = 0; i < A; ++i) o[base + i] *= g[base + i];
    }
    linear(P.pool, L.att_o, o, R, out);
}

void channel_mix_v7(Pass& P, int l, const double* z, double* out) {
    const Layer& L = P.m.layers[l];
    const int64_t D = P.m.cfg.n_embd, F = P.m.cfg.dim_ffn, R = P.R();
    double* xk = P.scratch.take(R * D);
    for (int b = 0; b < P.B; ++b)
        for (int t = 0; t < P.T; ++t) {
            const int64_t row = static_cast<int64_t>(b) * P.T + t;
            const double* zr = z + row * D;
            const double* p = Pass::prev(z, P.ffn_x(b, l), b, t, P.T, D);
            for (int64_t i = 0; i < D; ++i) xk[row * D + i] = zr[i] + (p[i] - zr[i]) * L.ffn_mix_k[i];
        }
    P.keep_last(z, &Pass::ffn_x, l);
    double* h = P.scratch.take(R * F);
    linear(P.pool, L.ffn_k, xk, R, h);
    for (int64_t i = 0; i < R * F; ++i) h[i] = relu2(h[i]);
    linear(P.pool, L.ffn_v, h, R, out);
}

}  // namespace rwkvb_ref
