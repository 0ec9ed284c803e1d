// Matrix weights and the one entry point that multiplies by them. The split:
//  - M (rows of x) ≤ kGemvMaxRows: our AVX2 kernels (gemv_kernels.cpp) for every dtype: they read
//    each weight once for all rows on our pool, where oneDNN's M=1 paths were slower on AVX2 and
//    collapse under contention (an OpenMP barrier per call, TOOLCHAIN §4/§6);
//  - larger M, f32 weights: oneDNN matmul (gemm:jit on AVX2, brg:avx512_core on AVX-512 hosts),
//    one primitive per shape, cached, issued in column chunks;
//  - larger M, f16/bf16/s8 weights: tiles converted to f32, then the same oneDNN GEMM (oneDNN 2.6
//    has no f16 matmul, bf16 only with bf16 activations, and no f32×s8 weight decompression).
#pragma once
#include "common.hpp"
#include "phase_profile.hpp"
#include "pool.hpp"

#include <dnnl.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <tuple>

namespace rwkvd {

// A linear map y = W x with W stored [n][k] (out × in) in the chosen dtype.
struct Linear {
    int64_t n = 0, k = 0;
    WType type = WType::F32;
    Buffer<float> f32;
    Buffer<uint16_t> h16;  // f16 or bf16 bits
    Buffer<int8_t> q8;
    Buffer<float> scale;  // s8: one scale per output row
    std::string label;    // "768x3072 f16": its phase name under profile=1

    bool empty() const { return n == 0; }
    uint64_t bytes() const { return f32.bytes() + h16.bytes() + q8.bytes() + scale.bytes(); }
};

// Builds a Linear from f32 values. `src_in_out` = the source is stored [k][n] (LoRA matrices,
// used as x @ M), which is transposed here so every weight is [n][k].
Linear make_linear(const float* src, int64_t n, int64_t k, bool src_in_out, WType type);

class Matmul {
public:
    // At or below this many rows our kernels beat oneDNN (measured: bench_onednn BM_Linear*).
    static constexpr int64_t kGemvMaxRows = 8;

    explicit Matmul(Parallel& par);
    // y[m][n] (row stride ldy) = x[m][k] (row stride ldx) · Wᵀ.
    void run(const Linear& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy);
    // Products that do not depend on each other. With few rows they run as one group on the
    // threads (gemv_group: one hand-off for all); with many, one oneDNN GEMM after another.
    struct Product {
        const Linear* w;
        const float* x;
        int64_t ldx;
        float* y;
        int64_t ldy;
    };
    void run(std::initializer_list<Product> products, int64_t m);
    // Force a path (benchmarks and tests): 0 = automatic, 1 = our kernels, 2 = oneDNN.
    void set_path(int path) { path_ = path; }
    // Widest oneDNN GEMM issued at once; ≤ 0 = whole matrices (benchmarks compare the two).
    void set_column_chunk(int64_t cols) { chunk_ = cols > 0 ? cols : INT64_MAX; }
    uint64_t workspace_bytes() const { return tile_.bytes(); }
    // profile=1: every run() timed under its weight's label; null = off.
    void set_profile(rwkvb::PhaseProfile* p) { prof_ = p; }

private:
    // Default widest oneDNN GEMM issued at once (see onednn()).
    static constexpr int64_t kColumnChunk = 384;
    int64_t chunk_ = kColumnChunk;
    void onednn(const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx,
                float* y, int64_t ldy);
    void gemm(const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx, float* y,
              int64_t ldy);
    using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;  // m, k, n, ldx, ldy
    Parallel& par_;
    dnnl::engine eng_;
    dnnl::stream strm_;
    std::map<Key, dnnl::matmul> cache_;
    Buffer<float> tile_;
    int path_ = 0;
    bool ours(int64_t m) const { return path_ == 1 || (path_ == 0 && m <= kGemvMaxRows); }
    rwkvb::PhaseProfile* prof_ = nullptr;
};

}  // namespace rwkvd
