// Numerical building blocks of the golden reference, all in float64.
//
// Matrices stay where the checkpoint put them (any float dtype) and are upcast element by
// element as they are read: the golden never rounds a weight and never copies a big matrix.
// Every dot product runs the same fixed instruction sequence whatever thread computes it, so
// results are bit-identical for any thread count, and sequence mode (T rows) equals T
// sequential calls because each row goes through exactly the same code.
#pragma once
#include <rwkvbench/backend.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "thread_pool.hpp"

namespace rwkvb_ref {

// A row-major [rows][cols] view of checkpoint elements of a float dtype.
struct Mat {
    const std::byte* data = nullptr;
    int32_t dtype = RWKVB_F32;
    int64_t rows = 0, cols = 0;

    // Rows [first, first + count) as their own matrix (e.g. one slot of v6 time_maa_w2).
    Mat rows_slice(int64_t first, int64_t count) const;
    double at(int64_t r, int64_t c) const;
};

size_t float_dtype_size(int32_t dtype);  // 0 for a dtype that is not F64/F32/F16/BF16
double element_as_double(int32_t dtype, const void* data, size_t i);

// sum_i W[row][i] * x[i], i = 0..cols-1, accumulated in float64 in a fixed order.
double dot_row(const Mat& W, int64_t row, const double* x);

// nn.Linear layout (RWKV.md §0): Y[t][o] = sum_i W[o][i] * X[t][i] for t < R.
// X is [R][W.cols], Y is [R][W.rows]. Threaded over output rows o.
void linear(ThreadPool& pool, const Mat& W, const double* X, int64_t R, double* Y);

// LoRA layout (stored [in][out]): Y[t][o] = sum_i X[t][i] * M[i][o]. X is [R][M.rows],
// Y is [R][M.cols]. Threaded over output columns; the sum over i is sequential.
void row_times(ThreadPool& pool, const Mat& M, const double* X, int64_t R, double* Y);

// LayerNorm over n entries with biased variance (RWKV.md §0).
void layer_norm(const double* x, const double* w, const double* b, int64_t n, double eps, double* y);
// GroupNorm: `groups` contiguous groups of `size` entries, each normalised on its own, then
// the full-length affine w, b.
void group_norm(const double* x, const double* w, const double* b, int64_t groups, int64_t size,
                double eps, double* y);

inline double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
inline double silu(double z) { return z * sigmoid(z); }
inline double relu2(double z) { return z > 0 ? z * z : 0.0; }

}  // namespace rwkvb_ref
