// AVX-512 versions of the few-row kernels of gemv_kernels.cpp, used when the CPU has AVX-512:
// 16 lanes and 32 registers: a batch of up to 8 rows of x reads each weight once, in one pass,
// 1.6× the throughput of the AVX2 kernel at batch 8 (where AVX2 made decode compute-bound).
// Compiled with -mavx512f; only static code and avx512_sum.hpp here (see that header on shared
// inline code).
#include "avx512_sum.hpp"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace rwkvd {
namespace {

struct F32 {
    using T = float;
    static __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
    static float load1(const float* p) { return *p; }
};
struct F16 {
    using T = uint16_t;
    static __m512 load16(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static float load1(const uint16_t* p) { return _cvtsh_ss(*p); }
};
struct BF16 {
    using T = uint16_t;
    static __m512 load16(const uint16_t* p) {
        const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    }
    static float load1(const uint16_t* p) {
        const uint32_t u = uint32_t(*p) << 16;
        float f;
        std::memcpy(&f, &u, 4);
        return f;
    }
};
struct S8 {
    using T = int8_t;
    static __m512 load16(const int8_t* p) {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    static float load1(const int8_t* p) { return float(*p); }
};

// out[m·R + r] = dot(weight row r, x row m) for R consecutive weight rows and MT rows of x.
// xp: x's first k/16·16 columns packed as [k/16][MT][16] (for MT = 1, x itself), so every row of x
// is read from one pointer: with 8 row pointers the compiler ran out of general registers and
// the kernel ran at 60% of the packed one. The last k % 16 columns come from x.
template <class L, int R, int MT>
inline void tile(const typename L::T* w, int64_t k, const float* xp, const float* x, int64_t ldx, float* out) {
    __m512 acc[R * MT];
    for (auto& a : acc) a = _mm512_setzero_ps();
    constexpr int64_t per_line = 64 / sizeof(typename L::T);  // weights per cache line
    // The weight row 16 rows ahead of each row of the tile, one prefetch per cache line as the
    // loop walks the columns (every row is prefetched once; past the matrix a prefetch never
    // faults). Rows are short (0.75-3 KB at D 768), too short for the hardware prefetchers to
    // ramp up: side by side (bench_onednn BM_Linear M=1/8, head 65536×768) this cut f16 by
    // 30-40%, s8 by ~70%, f32 at M = 8 by ~25%; 8 rows ahead was as good or slightly worse.
    // With several rows of x the lines go to L2 only (T1): in L1 they pushed out the packed x
    // the tile re-reads (24 KB at M = 8), and M = 8 ran 5-15% slower (BM_Linear, T0 against T1
    // alternated); at M = 1 the x row is small and T0 measured as good or better.
    const typename L::T* next = w + 16 * k;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16, xp += MT * 16) {
        if (per_line <= 16 || i % per_line == 0)
            for (int r = 0; r < R; ++r) {
                const char* p = reinterpret_cast<const char*>(next + r * k + i);
                if constexpr (MT > 1) _mm_prefetch(p, _MM_HINT_T1);  // two calls: clang has no hint type
                else _mm_prefetch(p, _MM_HINT_T0);
            }
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::load16(w + r * k + i);
        for (int m = 0; m < MT; ++m) {
            const __m512 xv = _mm512_loadu_ps(xp + m * 16);
            for (int r = 0; r < R; ++r) acc[m * R + r] = _mm512_fmadd_ps(wv[r], xv, acc[m * R + r]);
        }
    }
    avx512::sums(acc, out);
    for (; i < k; ++i)
        for (int m = 0; m < MT; ++m)
            for (int r = 0; r < R; ++r) out[m * R + r] += L::load1(w + r * k + i) * x[m * ldx + i];
}

// Rows [n0, n1) of y for MT rows of x.
template <class L, int R, int MT>
void rows(const typename L::T* w, const float* scale, int64_t n0, int64_t n1, int64_t k, const float* xp,
          const float* x, int64_t ldx, float* y, int64_t ldy) {
    float out[R * MT];
    int64_t n = n0;
    for (; n + R <= n1; n += R) {
        tile<L, R, MT>(w + n * k, k, xp, x, ldx, out);
        for (int m = 0; m < MT; ++m)
            for (int r = 0; r < R; ++r) y[m * ldy + n + r] = scale ? out[m * R + r] * scale[n + r] : out[m * R + r];
    }
    for (; n < n1; ++n) {
        tile<L, 1, MT>(w + n * k, k, xp, x, ldx, out);
        for (int m = 0; m < MT; ++m) y[m * ldy + n] = scale ? out[m] * scale[n] : out[m];
    }
}

// All m ≤ 8 rows of x in one pass over the weights, as many weight rows per tile as leave the
// accumulators in registers (measured: 2 × 8 beat 3 × 8 with packed x).
template <class L>
void rows_any(const typename L::T* w, const float* scale, int64_t n0, int64_t n1, int64_t k, const float* xp,
              const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
    switch (m) {
    case 1: return rows<L, 8, 1>(w, scale, n0, n1, k, x, x, ldx, y, ldy);
    case 2: return rows<L, 8, 2>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    case 3: return rows<L, 6, 3>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    case 4: return rows<L, 4, 4>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    case 5: return rows<L, 4, 5>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    case 6: return rows<L, 4, 6>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    case 7: return rows<L, 3, 7>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    default: return rows<L, 2, 8>(w, scale, n0, n1, k, xp, x, ldx, y, ldy);
    }
}

}  // namespace

// Declared in gemv_kernels.cpp, which dispatches here after its run-time check; m ≤ 8, xp as
// packed by pack_x_avx512.
void pack_x_avx512(const float* x, int64_t m, int64_t k, int64_t ldx, float* xp) {
    for (int64_t i = 0; i + 16 <= k; i += 16, xp += m * 16)
        for (int64_t r = 0; r < m; ++r) _mm512_storeu_ps(xp + r * 16, _mm512_loadu_ps(x + r * ldx + i));
}
void gemv_rows_avx512_f32(const float* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                          int64_t m, int64_t ldx, float* y, int64_t ldy) {
    rows_any<F32>(w, nullptr, n0, n1, k, xp, x, m, ldx, y, ldy);
}
void gemv_rows_avx512_f16(const uint16_t* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                          int64_t m, int64_t ldx, float* y, int64_t ldy) {
    rows_any<F16>(w, nullptr, n0, n1, k, xp, x, m, ldx, y, ldy);
}
void gemv_rows_avx512_bf16(const uint16_t* w, int64_t n0, int64_t n1, int64_t k, const float* xp, const float* x,
                           int64_t m, int64_t ldx, float* y, int64_t ldy) {
    rows_any<BF16>(w, nullptr, n0, n1, k, xp, x, m, ldx, y, ldy);
}
void gemv_rows_avx512_s8(const int8_t* w, const float* scale, int64_t n0, int64_t n1, int64_t k, const float* xp,
                         const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
    rows_any<S8>(w, scale, n0, n1, k, xp, x, m, ldx, y, ldy);
}

}  // namespace rwkvd
