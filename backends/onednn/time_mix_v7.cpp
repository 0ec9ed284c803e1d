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
    lerps<6>(par_, z, dz, R, D, {L.mu_r.data(), L.mu_w.data(), L.mu_k.data(), L.mu_v.data(), L.mu_a.data(), L.mu_g.data()},
             {xr, xw, xk, xv, xa, xg});
    float *r = r_.data(), *k = k_.data(), *v = v_.data(), *w = w_.data(), *a = a_.data(), *g = g_.data();
    float* y = y_.data();
    // The four LoRA intermediates side by side in one row of width Lw: decay, ICLR, gate, value.
    const int64_t Dw = c.lora_decay, Da = c.lora_iclr, Dv = c.lora_value, Dg = c.lora_gate, Lw = Dw + Da + Dg + Dv;
    float *lw = lora_.data(), *la = lw + Dw, *lg = la + Da, *lv = lg + Dg;
    // Layer 0 keeps its own v (no value residual), so its v1/v2 are not used.
    const Linear none;
    const Linear &v1 = l == 0 ? none : L.v1, &v2 = l == 0 ? none : L.v2;
    float* vmix = xr;  // (xv V1) V2 goes where xr was, once r is computed
    mm_.run({{&L.Wr, xr, D, r, D}, {&L.Wk, xk, D, k, D}, {&L.Wv, xv, D, v, D}, {&L.w1, xw, D, lw, Lw},
             {&L.a1, xa, D, la, Lw}, {&L.g1, xg, D, lg, Lw}, {&v1, xv, D, lv, Lw}},
            R);
    map_inplace(par_, lw, R, Dw, Lw, vm::tanh8);
    map_inplace(par_, lg, R, Dg, Lw, vm::sigmoid8);
    mm_.run({{&L.w2, lw, Lw, w, D}, {&L.a2, la, Lw, a, D}, {&L.g2, lg, Lw, g, D}, {&v2, lv, Lw, vmix, D}}, R);

    // Decay: w = exp(-0.606531·sigmoid(w0 + tanh(xw W1) W2)) — the official constant (RWKV.md §5.2).
    for_rows(par_, R, D, [&](int64_t row) {
        float* p = w + row * D;
        vm::span8(D, [&](int64_t i, auto io) {
            const __m256 sg = vm::sigmoid8(_mm256_add_ps(io.ld(L.decay.data() + i), io.ld(p + i)));
            io.st(p + i, vm::exp8(_mm256_mul_ps(vm::set1(-0.606531f), sg)));
        });
    });
    // In-context learning rate a = sigmoid(a0 + (xa A1) A2).
    for_rows(par_, R, D, [&](int64_t row) {
        float* p = a + row * D;
        vm::span8(D, [&](int64_t i, auto io) {
            io.st(p + i, vm::sigmoid8(_mm256_add_ps(io.ld(L.a0.data() + i), io.ld(p + i))));
        });
    });
    // Output gate g = sigmoid(xg G1) G2: computed above. Value residual: layer 0 keeps its v;
    // later layers mix towards it.
    if (l == 0) {
        std::memcpy(vfirst_.data(), v, size_t(R * D) * sizeof(float));
    } else {
        const float* vf = vfirst_.data();
        for_rows(par_, R, D, [&](int64_t row) {
            const int64_t o = row * D;
            vm::span8(D, [&](int64_t i, auto io) {
                const __m256 vv = io.ld(v + o + i);
                const __m256 mix = vm::sigmoid8(_mm256_add_ps(io.ld(L.v0.data() + i), io.ld(vmix + o + i)));
                io.st(v + o + i, _mm256_fmadd_ps(_mm256_sub_ps(io.ld(vf + o + i), vv), mix, vv));
            });
        });
    }
    // α = -κ̂, β = κ̂⊙a with κ = k⊙k_k normalised per head; then k̃ = k⊙(1 + (a-1)⊙k_a).
    float *alpha = kk_.data(), *beta = xw;  // xw is consumed
    for_rows(par_, R, D, [&](int64_t row) {
        for (int64_t h = 0; h < H; ++h) {
            const int64_t o = row * D + h * N;
            const float* kk = L.k_k.data() + h * N;
            const float* ka = L.k_a.data() + h * N;
            __m256 ss = _mm256_setzero_ps();
            vm::span8(N, [&](int64_t j, auto io) {
                const __m256 q = _mm256_mul_ps(io.ld(k + o + j), io.ld(kk + j));
                io.st(alpha + o + j, q);
                ss = _mm256_fmadd_ps(q, q, ss);
            });
            const __m256 inv = vm::set1(1.f / std::max(std::sqrt(vm::hsum8(ss)), 1e-12f));
            vm::span8(N, [&](int64_t j, auto io) {
                const __m256 kh = _mm256_mul_ps(io.ld(alpha + o + j), inv), aj = io.ld(a + o + j);
                io.st(alpha + o + j, _mm256_sub_ps(_mm256_setzero_ps(), kh));
                io.st(beta + o + j, _mm256_mul_ps(kh, aj));
                const __m256 f = _mm256_fmadd_ps(_mm256_sub_ps(aj, vm::set1(1.f)), io.ld(ka + j), vm::set1(1.f));
                io.st(k + o + j, _mm256_mul_ps(io.ld(k + o + j), f));
            });
        }
    });

    {
        rwkvb::PhaseTimer timed(prof_, "wkv v7");
        par_.run(B * H, [&](int64_t bh) {
            const int64_t b = bh / H, h = bh % H;
            float* S = s.stream_layer(int32_t(b), l, c.n_layer) + D + h * N * N;
            const int64_t o = b * T * D + h * N;
            wkv7_head(T, N, r + o, w + o, k + o, v + o, alpha + o, beta + o, D, S, y + o);
        });
    }
    {
        rwkvb::PhaseTimer timed(prof_, "group norm");
        group_norm(y, R, H, N, L.lnx_w.data(), L.lnx_b.data(), 64e-5f);
    }
    // Bonus (after GN): y_h += (Σ_j r_j k̃_j r_k[h][j]) v_h; then the gate.
    for_rows(par_, R, D, [&](int64_t row) {
        for (int64_t h = 0; h < H; ++h) {
            const int64_t o = row * D + h * N;
            const float* rk = L.bonus.data() + h * N;
            __m256 acc = _mm256_setzero_ps();
            vm::span8(N, [&](int64_t j, auto io) {
                acc = _mm256_fmadd_ps(_mm256_mul_ps(io.ld(r + o + j), io.ld(k + o + j)), io.ld(rk + j), acc);
            });
            const __m256 sdot = vm::set1(vm::hsum8(acc));
            vm::span8(N, [&](int64_t j, auto io) {
                io.st(y + o + j, _mm256_mul_ps(_mm256_fmadd_ps(sdot, io.ld(v + o + j), io.ld(y + o + j)), io.ld(g + o + j)));
            });
        }
    });
    mm_.run(L.Wo, y, R, D, xa_.data(), D);
    add_to(par_, x_.data(), xa_.data(), R, D);
}

}  // namespace rwkvd
