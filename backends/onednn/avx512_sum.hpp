// Horizontal sums for the AVX-512 files only (wkv7_avx512.cpp, gemv_avx512.cpp, compiled with
// -mavx512f). Everything here is `static`: an inline function with external linkage compiled
// for AVX-512 could be the copy the linker keeps for the AVX2 files too.
#pragma once
#include <immintrin.h>

namespace rwkvd::avx512 {

// The two 256-bit halves of v added. (Masked extracts with a zero source: the plain ones trip
// GCC 12's -Wuninitialized inside the intrinsic headers, which no flag here should hide.)
static inline __m256 fold(__m512 v) {
    const __m512d d = _mm512_castps_pd(v);
    return _mm256_add_ps(_mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xff, d, 0)),
                         _mm256_castpd_ps(_mm512_mask_extractf64x4_pd(_mm256_setzero_pd(), 0xff, d, 1)));
}

// Lane q = the sum of h[q]'s 8 lanes, for q = 0..7: a tree of hadds (7 instructions for 8 sums).
static inline __m256 sum8x8(const __m256* h) {
    const __m256 t0 = _mm256_hadd_ps(h[0], h[1]), t1 = _mm256_hadd_ps(h[2], h[3]);
    const __m256 t2 = _mm256_hadd_ps(h[4], h[5]), t3 = _mm256_hadd_ps(h[6], h[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// out[i] = the sum of a[i]'s 16 lanes, i < N. A template on N with a reference to the array, so
// that after inlining the accumulators stay in registers (a pointer made GCC keep, and zero,
// the whole array on the stack). Every sum is added in sum8x8's order, the last N % 8 too
// (padded with zeros; each lane of sum8x8 only adds its own vector): a plain 8-lane sum adds in
// another order, and rows of x past the last full group of 8 (batch 3, 5, 7) came out a few
// ulps off the same row elsewhere in the batch.
template <int N>
static inline __attribute__((always_inline)) void sums(const __m512 (&a)[N], float* out) {
    int i = 0;
    for (; i + 8 <= N; i += 8) {
        __m256 h[8];
        for (int q = 0; q < 8; ++q) h[q] = fold(a[i + q]);
        _mm256_storeu_ps(out + i, sum8x8(h));
    }
    if constexpr (N % 8 != 0) {
        __m256 h[8];
        for (int q = 0; q < 8; ++q) h[q] = i + q < N ? fold(a[i + q]) : _mm256_setzero_ps();
        alignas(32) float s[8];
        _mm256_store_ps(s, sum8x8(h));
        for (int q = 0; i + q < N; ++q) out[i + q] = s[q];
    }
}

}  // namespace rwkvd::avx512
