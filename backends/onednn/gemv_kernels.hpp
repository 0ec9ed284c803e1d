// Our AVX2 matrix kernels for few rows (decode: M = batch). Weights are [N][K] row-major (the
// checkpoint's nn.Linear layout); y[m*ldy + n] = sum_k W[n][k] * x[m*ldx + k] (× scale[n] for s8).
// Each weight row is read from memory once for all M rows of x. Threaded over blocks of output
// rows on the context's Parallel (the pool in decode, OpenMP in prefill: pool.hpp).
#pragma once
#include "common.hpp"
#include "pool.hpp"

#include <cstdint>

namespace rwkvd {

// One product y = x·Wᵀ of a group (W [n][k] of `type`: `w` points at f32, f16/bf16 bits or
// int8; `scale` one f32 per row for int8, else null), x: m rows (stride ldx); decode has m ≤ 8,
// more come only when matmul=own forces these kernels on a prefill.
struct GemvTask {
    WType type = WType::F32;
    const void* w = nullptr;
    const float* scale = nullptr;
    int64_t n = 0, k = 0;
    const float* x = nullptr;
    int64_t m = 0, ldx = 0;
    float* y = nullptr;
    int64_t ldy = 0;
};

// Every task of the group, threaded as one run over all their weight rows: products that do not
// depend on each other (r, k, v; a block's LoRA projections) share one hand-off to the threads.
constexpr int64_t kMaxGemvGroup = 16;
void gemv_group(Parallel& par, const GemvTask* tasks, int64_t count);

// Vectorised widening for prefill tiles (f16/bf16/s8 → f32 for the oneDNN GEMM). Scalar
// conversions (load time) are rwkvb::f32_to_f16 and friends in workloads/dtype.hpp.
void convert_f16_to_f32(const uint16_t* src, float* dst, int64_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, int64_t n);
void convert_s8_to_f32(const int8_t* src, const float* row_scale, int64_t rows, int64_t k, float* dst);

}  // namespace rwkvd
