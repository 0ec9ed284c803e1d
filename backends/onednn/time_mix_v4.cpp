// RWKV-4 time mixing (RWKV.md §2.2): three projections, the per-channel (aa, bb, pp) scan,
// sigmoid(r) gate, output projection.
#include "model.hpp"
#include "ops.hpp"
#include "pool.hpp"
#include "wkv.hpp"

#include <algorithm>

namespace rwkvd {

void Runner::time_mix_v4(const Layer& L, State& s, int64_t l, int64_t B, int64_t T) {
    const int64_t D = m_.cfg.n_embd, A = m_.cfg.dim_att, R = B * T;
    shift(s, l, B, T, 0);
    const float *z = z_.data(), *dz = dz_.data();
    float *xk = xa_.data(), *xv = xb_.data(), *xr = xc_.data();
    lerps<3>(par_, z, dz, R, D, {L.mu_k.data(), L.mu_v.data(), L.mu_r.data()}, {xk, xv, xr});
    mm_.run({{&L.Wk, xk, D, k_.data(), A}, {&L.Wv, xv, D, v_.data(), A}, {&L.Wr, xr, D, r_.data(), A}}, R);

    // Channels are independent: split them across threads (and streams), each scanning T.
    const int64_t chunk = 64, nchunks = (A + chunk - 1) / chunk;
    {
        rwkvb::PhaseTimer timed(prof_, "wkv v4");
        par_.run(B * nchunks, [&](int64_t job) {
            const int64_t b = job / nchunks, c0 = job % nchunks * chunk, c1 = std::min(A, c0 + chunk);
            float* st = s.stream_layer(int32_t(b), l, m_.cfg.n_layer) + D;
            wkv4(T, c0, c1, k_.data() + b * T * A, v_.data() + b * T * A, A, L.decay.data(), L.bonus.data(),
                 st, st + A, st + 2 * A, y_.data() + b * T * A);
        });
    }
    float* y = y_.data();
    const float* r = r_.data();
    for_rows(par_, R, A, [&](int64_t row) {  // y ⊙= sigmoid(r)
        const int64_t o = row * A;
        vm::span8(A, [&](int64_t i, auto io) {
            io.st(y + o + i, _mm256_mul_ps(io.ld(y + o + i), vm::sigmoid8(io.ld(r + o + i))));
        });
    });
    mm_.run(L.Wo, y, R, A, xa_.data(), D);
    add_to(par_, x_.data(), xa_.data(), R, D);
}

}  // namespace rwkvd
