// The v7 WKV step with AVX-512 (16 lanes), used when the CPU has it: the scan is compute-bound
// in prefill (5 vector ops per state element per token); 16 lanes and 32 registers (the 8 rows'
// broadcasts stay in registers) made it 1.3–1.5× the AVX2 kernel (BM_Wkv/7, one thread).
// Compiled with -mavx512f; it includes no header with inline code shared with the AVX2 files (an
// AVX-512 copy of a shared inline function could be the one the linker keeps).
#include "avx512_sum.hpp"

#include <immintrin.h>

#include <cstdint>

namespace rwkvd {

using avx512::fold;
using avx512::sum8x8;

// Same contract as wkv7_head (wkv.hpp) for N % 16 == 0.
void wkv7_head_avx512(int64_t T, int64_t N, const float* r, const float* w, const float* kt, const float* v,
                      const float* alpha, const float* beta, int64_t ld, float* S, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* rt = r + t * ld;
        const float* wt = w + t * ld;
        const float* kk = kt + t * ld;
        const float* vt = v + t * ld;
        const float* at = alpha + t * ld;
        const float* bt = beta + t * ld;
        float* yt = y + t * ld;
        // Rows i0..i0+7 of S: S·a for the 8 rows, then the update and S·r with the 8 rows inner
        // (independent accumulators; w, β, k̃, r loaded once per chunk).
        for (int64_t i0 = 0; i0 < N; i0 += 8) {
            float* S0 = S + i0 * N;
            __m512 acc[8];
            for (auto& a : acc) a = _mm512_setzero_ps();
            for (int64_t j = 0; j < N; j += 16) {
                const __m512 a = _mm512_loadu_ps(at + j);
                for (int q = 0; q < 8; ++q) acc[q] = _mm512_fmadd_ps(_mm512_loadu_ps(S0 + q * N + j), a, acc[q]);
            }
            __m256 h[8];
            for (int q = 0; q < 8; ++q) h[q] = fold(acc[q]);
            alignas(32) float sa[8];
            _mm256_store_ps(sa, sum8x8(h));
            // 32 registers hold the 8 rows' (S·a)_i and v_i broadcasts, their 8 accumulators and
            // the chunk's w, β, k̃, r.
            __m512 sab[8], vb[8];
            for (int q = 0; q < 8; ++q) sab[q] = _mm512_set1_ps(sa[q]), vb[q] = _mm512_set1_ps(vt[i0 + q]);
            for (auto& a : acc) a = _mm512_setzero_ps();
            for (int64_t j = 0; j < N; j += 16) {
                const __m512 wj = _mm512_loadu_ps(wt + j), bj = _mm512_loadu_ps(bt + j);
                const __m512 kj = _mm512_loadu_ps(kk + j), rj = _mm512_loadu_ps(rt + j);
                for (int q = 0; q < 8; ++q) {
                    float* p = S0 + q * N + j;
                    const __m512 s = _mm512_fmadd_ps(
                        _mm512_loadu_ps(p), wj,
                        _mm512_fmadd_ps(sab[q], bj, _mm512_mul_ps(vb[q], kj)));
                    _mm512_storeu_ps(p, s);
                    acc[q] = _mm512_fmadd_ps(s, rj, acc[q]);
                }
            }
            for (int q = 0; q < 8; ++q) h[q] = fold(acc[q]);
            _mm256_storeu_ps(yt + i0, sum8x8(h));
        }
    }
}

}  // namespace rwkvd
