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

// Rows [r0, r1) of one product, with the AVX-512 kernel when the CPU has it (m ≤ 8 rows).
template <class L>
void product_rows(const GemvTask& t, const float* xp, int64_t r0, int64_t r1) {
    static const bool avx512 = use_avx512();
    const auto* w = static_cast<const typename L::T*>(t.w);
    if (avx512 && t.m <= 8) return L::avx512(w, t.scale, r0, r1, t.k, xp, t.x, t.m, t.ldx, t.y, t.ldy);
    // Blocks of output rows small enough that the weight rows of a block stay in L2 while every
    // group of x rows passes over them.
    const int64_t nb = std::max<int64_t>(8, std::min<int64_t>(64, (1 << 15) / std::max<int64_t>(t.k, 1)));
    for (int64_t n0 = r0; n0 < r1; n0 += nb) {
        const int64_t n1 = std::min(r1, n0 + nb);
        for (int64_t m0 = 0; m0 < t.m;) {
            const int64_t left = t.m - m0;
            const float* xm = t.x + m0 * t.ldx;
            float* ym = t.y + m0 * t.ldy;
            if (left >= 4) {
                rows_block<L, 2, 4>(w, t.scale, n0, n1, t.k, xm, t.ldx, ym, t.ldy);
                m0 += 4;
            } else if (left == 3) {
                rows_block<L, 3, 3>(w, t.scale, n0, n1, t.k, xm, t.ldx, ym, t.ldy);
                m0 += 3;
            } else if (left == 2) {
                rows_block<L, 4, 2>(w, t.scale, n0, n1, t.k, xm, t.ldx, ym, t.ldy);
                m0 += 2;
            } else {
                rows_block<L, 4, 1>(w, t.scale, n0, n1, t.k, xm, t.ldx, ym, t.ldy);
                m0 += 1;
            }
        }
    }
}

void task_rows(const GemvTask& t, const float* xp, int64_t r0, int64_t r1) {
    switch (t.type) {
    case WType::F32: return product_rows<LoadF32>(t, xp, r0, r1);
    case WType::F16: return product_rows<LoadF16>(t, xp, r0, r1);
    case WType::BF16: return product_rows<LoadBF16>(t, xp, r0, r1);
    case WType::S8: return product_rows<LoadS8>(t, xp, r0, r1);
    }
}

}  // namespace

void gemv_group(Parallel& par, const GemvTask* tasks, int64_t count) {
    if (count <= 0) return;
    if (count > kMaxGemvGroup) throw Error(RWKVB_ERR_INTERNAL, "gemv_group: more than kMaxGemvGroup products");
    static const bool avx512 = use_avx512();
    // x packed once per call for the AVX-512 kernel when it has 2..8 rows (buffers kept per
    // calling thread: decode makes a few hundred calls a token).
    thread_local Buffer<float> packs[kMaxGemvGroup];
    const float* xp[kMaxGemvGroup];
    int64_t row0[kMaxGemvGroup + 1] = {0}, byte0[kMaxGemvGroup + 1] = {0};  // rows, weight bytes before each task
    for (int64_t i = 0; i < count; ++i) {
        const GemvTask& t = tasks[i];
        xp[i] = t.x;
        if (avx512 && t.m > 1 && t.m <= 8) {
            packs[i].resize(size_t(t.k * t.m));
            pack_x_avx512(t.x, t.m, t.k, t.ldx, packs[i].data());
            xp[i] = packs[i].data();
        }
        row0[i + 1] = row0[i] + t.n;
        byte0[i + 1] = byte0[i] + t.n * t.k * wtype_bytes(t.type);
    }
    const int64_t rows = row0[count], bytes = byte0[count];
    const int threads = par.threads();
    if (threads == 1 || bytes < (1 << 16)) {
        for (int64_t i = 0; i < count; ++i) task_rows(tasks[i], xp[i], 0, tasks[i].n);
        return;
    }
    // Guided claims over the tasks' rows in order, never across a task's end: each takes a share
    // of the weight bytes left (1/(2·threads)), never under 8 rows, so both threads finish within
    // one small claim of each other. (Fixed blocks of ~40 rows left one thread idle for up to a
    // block at the end of every call.) Several products in one run cost one hand-off, not one each.
    std::atomic<int64_t> next{0};
    par.run(threads, [&](int64_t) {
        int64_t cur = next.load(std::memory_order_relaxed);
        int64_t i = 0;
        for (;;) {
            if (cur >= rows) return;
            while (row0[i + 1] <= cur) ++i;
            const GemvTask& t = tasks[i];
            const int64_t row_bytes = t.k * wtype_bytes(t.type), end = row0[i + 1];
            const int64_t left = bytes - (byte0[i] + (cur - row0[i]) * row_bytes);
            const int64_t want = std::max<int64_t>(8, left / (2 * threads) / std::max<int64_t>(row_bytes, 1) / 8 * 8);
            const int64_t size = std::min(end - cur, want);
            if (!next.compare_exchange_weak(cur, cur + size, std::memory_order_relaxed)) continue;
            task_rows(t, xp[i], cur - row0[i], cur - row0[i] + size);
            cur = next.load(std::memory_order_relaxed);
        }
    });
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
