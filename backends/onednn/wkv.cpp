#include "wkv.hpp"

#include <algorithm>
#include <cmath>

namespace rwkvd {

void wkv4(int64_t T, int64_t c0, int64_t c1, const float* k, const float* v, int64_t ld,
          const float* w, const float* u, float* aa, float* bb, float* pp, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* kt = k + t * ld;
        const float* vt = v + t * ld;
        float* yt = y + t * ld;
        for (int64_t c = c0; c < c1; ++c) {
            const float kk = kt[c], vv = vt[c];
            float q = std::max(pp[c], u[c] + kk);
            float e1 = std::exp(pp[c] - q), e2 = std::exp(u[c] + kk - q);
            yt[c] = (e1 * aa[c] + e2 * vv) / (e1 * bb[c] + e2);
            q = std::max(pp[c] + w[c], kk);
            e1 = std::exp(pp[c] + w[c] - q);
            e2 = std::exp(kk - q);
            aa[c] = e1 * aa[c] + e2 * vv;
            bb[c] = e1 * bb[c] + e2;
            pp[c] = q;
        }
    }
}

void wkv5_head(int64_t T, int64_t N, const float* r, const float* k, const float* v, int64_t ld,
               const float* w, int64_t w_ld, const float* u, float* S, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* rt = r + t * ld;
        const float* kt = k + t * ld;
        const float* vt = v + t * ld;
        const float* wt = w + t * w_ld;
        float* yt = y + t * ld;
        for (int64_t j = 0; j < N; ++j) yt[j] = 0.f;
        for (int64_t i = 0; i < N; ++i) {
            const float ri = rt[i], ki = kt[i], wi = wt[i], rui = rt[i] * u[i] * kt[i];
            float* Si = S + i * N;
#pragma omp simd
            for (int64_t j = 0; j < N; ++j) {
                const float kv = ki * vt[j];
                yt[j] += ri * Si[j] + rui * vt[j];
                Si[j] = Si[j] * wi + kv;
            }
        }
    }
}

void wkv7_head(int64_t T, int64_t N, const float* r, const float* w, const float* kt, const float* v,
               const float* alpha, const float* beta, int64_t ld, float* S, float* y) {
    for (int64_t t = 0; t < T; ++t) {
        const float* rt = r + t * ld;
        const float* wt = w + t * ld;
        const float* kk = kt + t * ld;
        const float* vt = v + t * ld;
        const float* at = alpha + t * ld;
        const float* bt = beta + t * ld;
        float* yt = y + t * ld;
        for (int64_t i = 0; i < N; ++i) {
            float* Si = S + i * N;
            float sa = 0.f;
#pragma omp simd reduction(+ : sa)
            for (int64_t j = 0; j < N; ++j) sa += Si[j] * at[j];
            const float vi = vt[i];
            float acc = 0.f;
#pragma omp simd reduction(+ : acc)
            for (int64_t j = 0; j < N; ++j) {
                const float s = Si[j] * wt[j] + sa * bt[j] + vi * kk[j];
                Si[j] = s;
                acc += s * rt[j];
            }
            yt[i] = acc;
        }
    }
}

}  // namespace rwkvd
