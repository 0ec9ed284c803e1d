// The recurrences in AVX2: the scan over t is sequential, so the vector lanes run across
// channels (v4), across the value index (v5/v6), or across keys with 8 rows of S reduced at
// once (v7, where y_i and S·a are dot products along a row of S).
#include "wkv.hpp"

#include "device.hpp"
#include "vmath.hpp"

namespace rwkvd {

using vm::set1;


void wkv4(int64_t T, int64_t c0, int64_t c1, const float* k, const float* v, int64_t ld,
          const float* w, const float* u, float* aa, float* bb, float* pp, float* y) {
    // Channels are independent: keep 8 channels' (aa, bb, pp) in registers for the whole scan.
    vm::span8(c1 - c0, [&](int64_t i, auto io) {
        const int64_t c = c0 + i;
        __m256 a = io.ld(aa + c), b = io.ld(bb + c), p = io.ld(pp + c);
        const __m256 wc = io.ld(w + c), uc = io.ld(u + c);
        for (int64_t t = 0; t < T; ++t) {
            const __m256 kk = io.ld(k + t * ld + c), vv = io.ld(v + t * ld + c);
            const __m256 uk = _mm256_add_ps(uc, kk);
            __m256 q = _mm256_max_ps(p, uk);
            __m256 e1 = vm::exp8(_mm256_sub_ps(p, q)), e2 = vm::exp8(_mm256_sub_ps(uk, q));
            io.st(y + t * ld + c, _mm256_div_ps(_mm256_fmadd_ps(e1, a, _mm256_mul_ps(e2, vv)),
                                                _mm256_fmadd_ps(e1, b, e2)));
            const __m256 pw = _mm256_add_ps(p, wc);
            q = _mm256_max_ps(pw, kk);
            e1 = vm::exp8(_mm256_sub_ps(pw, q));
            e2 = vm::exp8(_mm256_sub_ps(kk, q));
            a = _mm256_fmadd_ps(e1, a, _mm256_mul_ps(e2, vv));
            b = _mm256_fmadd_ps(e1, b, e2);
            p = q;
        }
        io.st(aa + c, a);
        io.st(bb + c, b);
        io.st(pp + c, p);
    });
}

void wkv5_head(int64_t T, int64_t N, const float* r, const float* k, const float* v, int64_t ld,
               const float* w, int64_t w_ld, const float* u, float* S, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* rt = r + t * ld;
        const float* kt = k + t * ld;
        const float* vt = v + t * ld;
        const float* wt = w + t * w_ld;
        float* yt = y + t * ld;
        vm::span8(N, [&](int64_t j, auto io) { io.st(yt + j, _mm256_setzero_ps()); });
        for (int64_t i = 0; i < N; ++i) {
            const __m256 ri = set1(rt[i]), ki = set1(kt[i]), wi = set1(wt[i]), rui = set1(rt[i] * u[i] * kt[i]);
            float* Si = S + i * N;
            vm::span8(N, [&](int64_t j, auto io) {
                const __m256 vj = io.ld(vt + j), s = io.ld(Si + j);
                io.st(yt + j, _mm256_fmadd_ps(rui, vj, _mm256_fmadd_ps(ri, s, io.ld(yt + j))));
                io.st(Si + j, _mm256_fmadd_ps(s, wi, _mm256_mul_ps(ki, vj)));
            });
        }
    }
}

namespace {

// v7 for any N, one row of S at a time (the 8-row kernel below needs N % 8 == 0).
void wkv7_rows(int64_t N, const float* rt, const float* wt, const float* kk, const float* vt,
               const float* at, const float* bt, float* S, float* yt) {
    for (int64_t i = 0; i < N; ++i) {
        float* Si = S + i * N;
        __m256 acc = _mm256_setzero_ps();
        vm::span8(N, [&](int64_t j, auto io) { acc = _mm256_fmadd_ps(io.ld(Si + j), io.ld(at + j), acc); });
        const __m256 sa = set1(vm::hsum8(acc)), vi = set1(vt[i]);
        acc = _mm256_setzero_ps();
        vm::span8(N, [&](int64_t j, auto io) {
            const __m256 s = _mm256_fmadd_ps(io.ld(Si + j), io.ld(wt + j),
                                             _mm256_fmadd_ps(sa, io.ld(bt + j), _mm256_mul_ps(vi, io.ld(kk + j))));
            io.st(Si + j, s);
            acc = _mm256_fmadd_ps(s, io.ld(rt + j), acc);
        });
        yt[i] = vm::hsum8(acc);
    }
}

}  // namespace

void wkv7_head_avx512(int64_t T, int64_t N, const float* r, const float* w, const float* kt, const float* v,
                      const float* alpha, const float* beta, int64_t ld, float* S, float* y);  // wkv7_avx512.cpp

void wkv7_head(int64_t T, int64_t N, const float* r, const float* w, const float* kt, const float* v,
               const float* alpha, const float* beta, int64_t ld, float* S, float* y) {
    static const bool avx512 = use_avx512();
    if (avx512 && N % 16 == 0) return wkv7_head_avx512(T, N, r, w, kt, v, alpha, beta, ld, S, y);
    for (int64_t t = 0; t < T; ++t) {
        const float* rt = r + t * ld;
        const float* wt = w + t * ld;
        const float* kk = kt + t * ld;
        const float* vt = v + t * ld;
        const float* at = alpha + t * ld;
        const float* bt = beta + t * ld;
        float* yt = y + t * ld;
        if (N % 8) {
            wkv7_rows(N, rt, wt, kk, vt, at, bt, S, yt);
            continue;
        }
        // Rows i0..i0+7 of S: their 8 dot products (S·a, then S·r) are reduced together. The
        // state row is read twice (S·a needs the old S) but stays in L1 (N² floats per head).
        for (int64_t i0 = 0; i0 < N; i0 += 8) {
            float* S0 = S + i0 * N;
            __m256 acc[8];
            for (auto& a : acc) a = _mm256_setzero_ps();
            for (int64_t j = 0; j < N; j += 8) {
                const __m256 a = _mm256_loadu_ps(at + j);
                for (int q = 0; q < 8; ++q) acc[q] = _mm256_fmadd_ps(_mm256_loadu_ps(S0 + q * N + j), a, acc[q]);
            }
            alignas(32) float sa[8];
            _mm256_store_ps(sa, vm::hsum8x8(acc));
            // The update, j outer and the 8 rows inner: w, β, k̃, r are loaded once per chunk and
            // the 8 y accumulators are independent (one accumulator per row serialised on the
            // FMA latency and cost 3× here).
            for (auto& a : acc) a = _mm256_setzero_ps();
            for (int64_t j = 0; j < N; j += 8) {
                const __m256 wj = _mm256_loadu_ps(wt + j), bj = _mm256_loadu_ps(bt + j);
                const __m256 kj = _mm256_loadu_ps(kk + j), rj = _mm256_loadu_ps(rt + j);
                for (int q = 0; q < 8; ++q) {
                    float* p = S0 + q * N + j;
                    const __m256 s = _mm256_fmadd_ps(
                        _mm256_loadu_ps(p), wj,
                        _mm256_fmadd_ps(_mm256_broadcast_ss(sa + q), bj, _mm256_mul_ps(_mm256_broadcast_ss(vt + i0 + q), kj)));
                    _mm256_storeu_ps(p, s);
                    acc[q] = _mm256_fmadd_ps(s, rj, acc[q]);
                }
            }
            _mm256_storeu_ps(yt + i0, vm::hsum8x8(acc));
        }
    }
}

}  // namespace rwkvd
