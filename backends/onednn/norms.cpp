#include "norms.hpp"

#include <cmath>

namespace rwkvd {
namespace {

// Mean and biased variance of v[0..n), two passes (the second over centred values) so large
// offsets do not cancel.
inline void moments(const float* v, int64_t n, float& mean, float& rstd, float eps) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += v[i];
    mean = s / float(n);
    float q = 0.f;
#pragma omp simd reduction(+ : q)
    for (int64_t i = 0; i < n; ++i) q += (v[i] - mean) * (v[i] - mean);
    rstd = 1.f / std::sqrt(q / float(n) + eps);
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t d, int64_t ldx, const float* w, const float* b,
                float* out, int64_t ldo) {
#pragma omp parallel for schedule(static) if (rows * d >= (1 << 16))
    for (int64_t r = 0; r < rows; ++r) {
        const float* v = x + r * ldx;
        float* o = out + r * ldo;
        float mean, rstd;
        moments(v, d, mean, rstd, 1e-5f);
#pragma omp simd
        for (int64_t i = 0; i < d; ++i) o[i] = (v[i] - mean) * rstd * w[i] + b[i];
    }
}

void group_norm(float* x, int64_t rows, int64_t groups, int64_t n, const float* w, const float* b, float eps) {
#pragma omp parallel for schedule(static) if (rows * groups * n >= (1 << 16))
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groups; ++g) {
            float* v = x + (r * groups + g) * n;
            const float* wg = w + g * n;
            const float* bg = b + g * n;
            float mean, rstd;
            moments(v, n, mean, rstd, eps);
#pragma omp simd
            for (int64_t i = 0; i < n; ++i) v[i] = (v[i] - mean) * rstd * wg[i] + bg[i];
        }
}

}  // namespace rwkvd
