// Row loops for the elementwise passes of the time-mix and channel-mix code. A pass is written
// per row with the 8-wide helpers of vmath.hpp; rows are threaded with OpenMP only when the
// array is large (prefill), where OpenMP's team is already awake for the GEMMs. Decode arrays
// (≤ 8 rows) stay on the calling thread: waking a team there would cost more than the pass.
#pragma once
#include "vmath.hpp"

#include <cstdint>

namespace rwkvd {

constexpr int64_t kParallelElems = 1 << 15;

// f(r) for every row r in [0, rows) of a rows × width array.
template <class F>
inline void for_rows(int64_t rows, int64_t width, F&& f) {
#pragma omp parallel for schedule(static) if (rows * width >= kParallelElems)
    for (int64_t r = 0; r < rows; ++r) f(r);
}

// out[r] = z[r] + dz[r] ⊙ mu over rows × d (the token-shift lerp).
inline void lerp(const float* z, const float* dz, const float* mu, int64_t rows, int64_t d, float* out) {
    for_rows(rows, d, [&](int64_t r) {
        const int64_t o = r * d;
        vm::span8(d, [&](int64_t i, auto io) {
            io.st(out + o + i, _mm256_fmadd_ps(io.ld(dz + o + i), io.ld(mu + i), io.ld(z + o + i)));
        });
    });
}

// x[r] += y[r] over rows × d (residual add).
inline void add_to(float* x, const float* y, int64_t rows, int64_t d) {
    for_rows(rows, d, [&](int64_t r) {
        const int64_t o = r * d;
        vm::span8(d, [&](int64_t i, auto io) { io.st(x + o + i, _mm256_add_ps(io.ld(x + o + i), io.ld(y + o + i))); });
    });
}

// a[r][i] = f(a[r][i]) for an 8-wide f, over rows × d with row stride ld.
template <class F>
inline void map_inplace(float* a, int64_t rows, int64_t d, int64_t ld, F&& f) {
    for_rows(rows, d, [&](int64_t r) {
        float* p = a + r * ld;
        vm::span8(d, [&](int64_t i, auto io) { io.st(p + i, f(io.ld(p + i))); });
    });
}

}  // namespace rwkvd
