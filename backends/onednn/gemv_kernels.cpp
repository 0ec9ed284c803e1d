// AVX2 + FMA (+ F16C) kernels: one template over the weight loader, register-blocked over
// R weight rows × MT rows of x. Memory-bound at M = 1, so the only goals are streaming every
// weight byte once and keeping enough loads in flight. On AVX-512 hosts the row ranges go to
// gemv_avx512.cpp instead (batch 8 is compute-bound with AVX2); threading and claims stay here.
#include "gemv_kernels.hpp"

#include "common.hpp"
#include "device.hpp"
#include "dtype.hpp"  // rwkvb::f16_to_f32, bf16_to_f32 (workloads) for the scalar tails
#include "vmath.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>

namespace rwkvd {

// gemv_avx512.cpp: rows [n0, n1) of y for m ≤ 8 rows of x, all in one pass; xp = x packed by
// pack_x_avx512 ([k/16][m][16] floats) when m > 1.
void pack_x_avx512(const float* x, int64_t m, int64_t k, int64_t ldx, float* xp);
void gemv_rows_avx512_f32(const float* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                          int64_t m, int64_t ldx, float* y, int64_t ldy);
void gemv_rows_avx512_f16(const uint16_t* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                          int64_t m, int64_t ldx, float* y, int64_t ldy);
void gemv_rows_avx512_bf16(const uint16_t* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                           int64_t m, int64_t ldx, float* y, int64_t ldy);
void gemv_rows_avx512_s8(const int8_t* w, const float* scale, int64_t n0, int64_t n1, int64_t k, const float* xp,
                         const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy);

namespace {

struct LoadF32 {
    using T = float;
    static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
    static float load1(const float* p) { return *p; }
    static void avx512(const float* w, const float*, int64_t n0, int64_t n1, int64_t k, const float* xp,
                       const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
        gemv_rows_avx512_f32(w, n0, n1, k, xp, x, m, ldx, y, ldy);
    }
};
struct LoadF16 {
    using T = uint16_t;
    static __m256 load8(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float load1(const uint16_t* p) { return rwkvb::f16_to_f32(*p); }
    static void avx512(const uint16_t* w, const float*, int64_t n0, int64_t n1, int64_t k, const float* xp,
                       const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
        gemv_rows_avx512_f16(w, n0, n1, k, xp, x, m, ldx, y, ldy);
    }
};
struct LoadBF16 {
    using T = uint16_t;
    static __m256 load8(const uint16_t* p) {
        __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
    static float load1(const uint16_t* p) { return rwkvb::bf16_to_f32(*p); }
    static void avx512(const uint16_t* w, const float*, int64_t n0, int64_t n1, int64_t k, const float* xp,
                       const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
        gemv_rows_avx512_bf16(w, n0, n1, k, xp, x, m, ldx, y, ldy);
    }
};
struct LoadS8 {
    using T = int8_t;
    static __m256 load8(const int8_t* p) {
        __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
    }
    static float load1(const int8_t* p) { return float(*p); }
    static void avx512(const int8_t* w, const float* scale, int64_t n0, int64_t n1, int64_t k, const float* xp,
                       const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
        gemv_rows_avx512_s8(w, scale, n0, n1, k, xp, x, m, ldx, y, ldy);
    }
};

// R consecutive weight rows (starting at w, row length k) against MT rows of x;
// out[m][r] = dot(w_r, x_m).
template <class L, int R, int MT>
inline void tile(const typename L::T* w, int64_t k, const float* x, int64_t ldx, float out[4][4]) {
    __m256 acc[R][MT];
    for (int r = 0; r < R; ++r)
        for (int m = 0; m < MT; ++m) acc[r][m] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= k; i += 8) {
        __m256 xv[MT];
        for (int m = 0; m < MT; ++m) xv[m] = _mm256_loadu_ps(x + m * ldx + i);
        for (int r = 0; r < R; ++r) {
            __m256 wv = L::load8(w + r * k + i);
            for (int m = 0; m < MT; ++m) acc[r][m] = _mm256_fmadd_ps(wv, xv[m], acc[r][m]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int m = 0; m < MT; ++m) {
            float s = vm::hsum8(acc[r][m]);
            for (int64_t j = i; j < k; ++j) s += L::load1(w + r * k + j) * x[m * ldx + j];
            out[m][r] = s;
        }
}

// Rows [n0, n1) of the output for MT rows of x, R rows of weights at a time.
template <class L, int R, int MT>
inline void rows_block(const typename L::T* w, const float* scale, int64_t n0, int64_t n1,
                       int64_t k, const float* x, int64_t ldx, float* y, int64_t ldy) {
    float out[4][4];
    int64_t n = n0;
    for (; n + R <= n1; n += R) {
        tile<L, R, MT>(w + n * k, k, x, ldx, out);
        for (int m = 0; m < MT; ++m)
            for (int r = 0; r < R; ++r)
                y[m * ldy + n + r] = scale ? out[m][r] * scale[n + r] : out[m][r];
    }
    for (; n < n1; ++n) {
        tile<L, 1, MT>(w + n * k, k, x, ldx, out);
        for (int m = 0; m < MT; ++m) y[m * ldy + n] = scale ? out[m][0] * scale[n] : out[m][0];
    }
}

template <class L>
void gemv(Parallel& par, const typename L::T* w, const float* scale, int64_t n, int64_t k, const float* x,
          int64_t m, int64_t ldx, float* y, int64_t ldy) {
    // Blocks of output rows small enough that the weight rows of a block stay in L2 while every
    // group of x rows passes over them.
    const int64_t nb = std::max<int64_t>(8, std::min<int64_t>(64, (1 << 15) / std::max<int64_t>(k, 1)));
    static const bool avx512 = use_avx512();
    const float* xp = x;
    if (avx512 && m > 1 && m <= 8) {  // packed once per call for the AVX-512 kernel (m ≤ 8 rows)
        thread_local Buffer<float> packed;
        packed.resize(size_t(k * m));
        pack_x_avx512(x, m, k, ldx, packed.data());
        xp = packed.data();
    }
    auto rows = [&](int64_t r0, int64_t r1) {
        if (avx512 && m <= 8) return L::avx512(w, scale, r0, r1, k, xp, x, m, ldx, y, ldy);
        for (int64_t n0 = r0; n0 < r1; n0 += nb) {
            const int64_t n1 = std::min(r1, n0 + nb);
            for (int64_t m0 = 0; m0 < m;) {
                const int64_t left = m - m0;
                const float* xm = x + m0 * ldx;
                float* ym = y + m0 * ldy;
                if (left >= 4) {
                    rows_block<L, 2, 4>(w, scale, n0, n1, k, xm, ldx, ym, ldy);
                    m0 += 4;
                } else if (left == 3) {
                    rows_block<L, 3, 3>(w, scale, n0, n1, k, xm, ldx, ym, ldy);
                    m0 += 3;
                } else if (left == 2) {
                    rows_block<L, 4, 2>(w, scale, n0, n1, k, xm, ldx, ym, ldy);
                    m0 += 2;
                } else {
                    rows_block<L, 4, 1>(w, scale, n0, n1, k, xm, ldx, ym, ldy);
                    m0 += 1;
                }
            }
        }
    };
    const int threads = par.threads();
    if (threads == 1 || n * k * int64_t(sizeof(typename L::T)) < (1 << 16)) return rows(0, n);
    // Guided claims: each takes a share of what is left (1/(2·threads)), never under 8 rows, so
    // a call is a handful of claims and both threads finish within one small claim of each
    // other. (Fixed blocks of ~40 rows left one thread idle for up to a block at the end of
    // every call, a few percent of decode at ~180 calls per token.)
    std::atomic<int64_t> next{0};
    par.run(threads, [&](int64_t) {
        int64_t cur = next.load(std::memory_order_relaxed);
        for (;;) {
            if (cur >= n) return;
            const int64_t size = std::min(n - cur, std::max<int64_t>(8, (n - cur) / (2 * threads) / 8 * 8));
            if (!next.compare_exchange_weak(cur, cur + size, std::memory_order_relaxed)) continue;
            rows(cur, cur + size);
            cur = next.load(std::memory_order_relaxed);
        }
    });
}

}  // namespace

void gemv_f32(Parallel& par, const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx,
              float* y, int64_t ldy) {
    gemv<LoadF32>(par, w, nullptr, n, k, x, m, ldx, y, ldy);
}
void gemv_f16(Parallel& par, const uint16_t* w, int64_t n, int64_t k, const float* x, int64_t m,
              int64_t ldx, float* y, int64_t ldy) {
    gemv<LoadF16>(par, w, nullptr, n, k, x, m, ldx, y, ldy);
}
void gemv_bf16(Parallel& par, const uint16_t* w, int64_t n, int64_t k, const float* x, int64_t m,
               int64_t ldx, float* y, int64_t ldy) {
    gemv<LoadBF16>(par, w, nullptr, n, k, x, m, ldx, y, ldy);
}
void gemv_s8(Parallel& par, const int8_t* w, const float* scale, int64_t n, int64_t k, const float* x,
             int64_t m, int64_t ldx, float* y, int64_t ldy) {
    gemv<LoadS8>(par, w, scale, n, k, x, m, ldx, y, ldy);
}

void convert_f16_to_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, LoadF16::load8(src + i));
    for (; i < n; ++i) dst[i] = LoadF16::load1(src + i);
}
void convert_bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, LoadBF16::load8(src + i));
    for (; i < n; ++i) dst[i] = LoadBF16::load1(src + i);
}
void convert_s8_to_f32(const int8_t* src, const float* row_scale, int64_t rows, int64_t k, float* dst) {
    for (int64_t r = 0; r < rows; ++r) {
        const __m256 s = _mm256_set1_ps(row_scale[r]);
        const int8_t* a = src + r * k;
        float* d = dst + r * k;
        int64_t i = 0;
        for (; i + 8 <= k; i += 8) _mm256_storeu_ps(d + i, _mm256_mul_ps(LoadS8::load8(a + i), s));
        for (; i < k; ++i) d[i] = float(a[i]) * row_scale[r];
    }
}

}  // namespace rwkvd
