// Elementwise helpers shared by the time-mix and channel-mix code. Loops are written so the
// compiler vectorises them for the host ISA (AVX2 here); rows × width arrays are threaded only
// when large enough to pay for waking the OpenMP team.
#pragma once
#include <cmath>
#include <cstdint>

namespace rwkvd {

inline float sigmoidf(float x) { return 1.f / (1.f + std::exp(-x)); }

constexpr int64_t kParallelElems = 1 << 16;

// out[r] = z[r] + dz[r] ⊙ mu, over rows × d.
inline void lerp(const float* z, const float* dz, const float* mu, int64_t rows, int64_t d, float* out) {
#pragma omp parallel for schedule(static) if (rows * d >= kParallelElems)
    for (int64_t r = 0; r < rows; ++r) {
        const float* zr = z + r * d;
        const float* dr = dz + r * d;
        float* o = out + r * d;
#pragma omp simd
        for (int64_t i = 0; i < d; ++i) o[i] = zr[i] + dr[i] * mu[i];
    }
}

// Applies f(i, j) to every element of a rows × d array (i = row, j = column).
template <class F>
inline void for_each(int64_t rows, int64_t d, F f) {
#pragma omp parallel for schedule(static) if (rows * d >= kParallelElems)
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < d; ++j) f(r, j);
}

}  // namespace rwkvd
