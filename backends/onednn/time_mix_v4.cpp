// RWKV-4 time mixing (RWKV.md §2.2): three projections, the per-channel (aa, bb, pp) scan,
// sigmoid(r) gate, output projection.
#include "model.hpp"
#include "ops.hpp"
#include "wkv.hpp"

#include <algorithm>

namespace rwkvd {

void Runner::time_mix_v4(const Layer& L, State& s, int64_t l, int64_t B, int64_t T) {
    const int64_t D = m_.cfg.n_embd, A = m_.cfg.dim_att, R = B * T;
    shift(s, l, B, T, 0);
    const float *z = z_.data(), *dz = dz_.data();
    float *xk = xa_.data(), *xv = xb_.data(), *xr = xc_.data();
    for_each(R, D, [&](int64_t r, int64_t i) {  // the three lerps in one pass over z, dz
        const int64_t o = r * D + i;
        xk[o] = z[o] + dz[o] * L.mu_k[i];
        xv[o] = z[o] + dz[o] * L.mu_v[i];
        xr[o] = z[o] + dz[o] * L.mu_r[i];
    });
    mm_.run(L.Wk, xk, R, D, k_.data(), A);
    mm_.run(L.Wv, xv, R, D, v_.data(), A);
    mm_.run(L.Wr, xr, R, D, r_.data(), A);

    // Channels are independent: split them across threads (and streams), each scanning T.
    const int64_t chunk = 64, nchunks = (A + chunk - 1) / chunk;
#pragma omp parallel for collapse(2) schedule(static) if (B * A * T >= 4096)
    for (int64_t b = 0; b < B; ++b)
        for (int64_t ch = 0; ch < nchunks; ++ch) {
            float* st = s.stream_layer(int32_t(b), l, m_.cfg.n_layer) + D;
            const int64_t c0 = ch * chunk, c1 = std::min(A, c0 + chunk);
            wkv4(T, c0, c1, k_.data() + b * T * A, v_.data() + b * T * A, A, L.decay.data(), L.bonus.data(),
                 st, st + A, st + 2 * A, y_.data() + b * T * A);
        }
    float* y = y_.data();
    const float* r = r_.data();
    for_each(R, A, [&](int64_t row, int64_t i) { y[row * A + i] *= sigmoidf(r[row * A + i]); });
    mm_.run(L.Wo, y, R, A, xa_.data(), D);
    float* x = x_.data();
    const float* o = xa_.data();
    for_each(R, D, [&](int64_t row, int64_t i) { x[row * D + i] += o[row * D + i]; });
}

}  // namespace rwkvd
