// Our AVX2 matrix kernels for few rows (decode: M = batch). Weights are [N][K] row-major (the
// checkpoint's nn.Linear layout); y[m*ldy + n] = sum_k W[n][k] * x[m*ldx + k] (× scale[n] for s8).
// Each weight row is read from memory once for all M rows of x. Threaded over blocks of output
// rows on the context's Parallel (the pool in decode, OpenMP in prefill: pool.hpp).
#pragma once
#include "pool.hpp"

#include <cstdint>

namespace rwkvd {

void gemv_f32(Parallel& par, const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx,
              float* y, int64_t ldy);
void gemv_f16(Parallel& par, const uint16_t* w, int64_t n, int64_t k, const float* x, int64_t m,
              int64_t ldx, float* y, int64_t ldy);
void gemv_bf16(Parallel& par, const uint16_t* w, int64_t n, int64_t k, const float* x, int64_t m,
               int64_t ldx, float* y, int64_t ldy);
void gemv_s8(Parallel& par, const int8_t* w, const float* scale, int64_t n, int64_t k, const float* x,
             int64_t m, int64_t ldx, float* y, int64_t ldy);

// Vectorised widening for prefill tiles (f16/bf16/s8 → f32 for the oneDNN GEMM). Scalar
// conversions (load time) are rwkvb::f32_to_f16 and friends in workloads/dtype.hpp.
void convert_f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, int64_t n);
void convert_s8_to_f32(const int8_t* src, const float* row_scale, int64_t rows, int64_t k, float* dst);

}  // namespace rwkvd
