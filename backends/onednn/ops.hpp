// Row loops for the elementwise passes of the time-mix and channel-mix code. A pass is written
// per row with the 8-wide helpers of vmath.hpp. Rows are threaded on the context's selected team
// (pool.hpp): with OpenMP only when the array is large (prefill), where its team is already awake
// for the GEMMs; on the pool (decode) only when several streams give enough rows, so decode never
// wakes OpenMP (rwkv7-0.1b batch 8: the passes went from 1.09 to 0.90 ms of an 18.6 ms step; they
// wait on cold parameter vectors more than they compute). One decode row stays on the calling
// thread: a hand-off would cost more than the pass.
#pragma once
#include "pool.hpp"
#include "vmath.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace rwkvd {

constexpr int64_t kParallelElems = 1 << 15;  // OpenMP (prefill)
constexpr int64_t kPoolElems = 1 << 12;      // the pool (decode): batch ≥ 6 at D 768, ≥ 2 at D 2048

// f(r) for every row r in [0, rows) of a rows × width array.
template <class F>
inline void for_rows(Parallel& par, int64_t rows, int64_t width, F&& f) {
    if (par.openmp()) {
#pragma omp parallel for schedule(static) if (rows * width >= kParallelElems)
        for (int64_t r = 0; r < rows; ++r) f(r);
    } else if (rows > 1 && rows * width >= kPoolElems) {
        par.run(rows, [&](int64_t r) { f(r); });
    } else {
        for (int64_t r = 0; r < rows; ++r) f(r);
    }
}

// out_j[r] = z[r] + dz[r] ⊙ mu_j over rows × d for n (mu_j, out_j) pairs: a block's token-shift
// lerps in one pass over z and dz.
template <size_t n>
inline void lerps(Parallel& par, const float* z, const float* dz, int64_t rows, int64_t d, const std::array<const float*, n>& mu,
                  const std::array<float*, n>& out) {
    for_rows(par, rows, d, [&](int64_t r) {
        const int64_t o = r * d;
        vm::span8(d, [&](int64_t i, auto io) {
            const __m256 zz = io.ld(z + o + i), dd = io.ld(dz + o + i);
            for (size_t j = 0; j < n; ++j) io.st(out[j] + o + i, _mm256_fmadd_ps(dd, io.ld(mu[j] + i), zz));
        });
    });
}

// One lerp: out[r] = z[r] + dz[r] ⊙ mu.
inline void lerp(Parallel& par, const float* z, const float* dz, const float* mu, int64_t rows, int64_t d, float* out) {
    lerps<1>(par, z, dz, rows, d, {mu}, {out});
}

// x[r] += y[r] over rows × d (residual add).
inline void add_to(Parallel& par, float* x, const float* y, int64_t rows, int64_t d) {
    for_rows(par, rows, d, [&](int64_t r) {
        const int64_t o = r * d;
        vm::span8(d, [&](int64_t i, auto io) { io.st(x + o + i, _mm256_add_ps(io.ld(x + o + i), io.ld(y + o + i))); });
    });
}

// a[r][i] = f(a[r][i]) for an 8-wide f, over rows × d with row stride ld.
template <class F>
inline void map_inplace(Parallel& par, float* a, int64_t rows, int64_t d, int64_t ld, F&& f) {
    for_rows(par, rows, d, [&](int64_t r) {
        float* p = a + r * ld;
        vm::span8(d, [&](int64_t i, auto io) { io.st(p + i, f(io.ld(p + i))); });
    });
}

}  // namespace rwkvd
