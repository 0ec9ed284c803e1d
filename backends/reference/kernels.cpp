#include "kernels.hpp"

#include "dtype.hpp"  // the one f16/bf16 widening of the tree (inline)

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define RWKVB_REF_AVX2 1
#endif

namespace rwkvb_ref {
namespace {

// One element of each supported storage type, as double (exact for all of them).
template <int DT>
inline double elem(const std::byte* p, int64_t i) {
    if constexpr (DT == RWKVB_F64) {
        double v;
        std::memcpy(&v, p + i * 8, 8);
        return v;
    } else if constexpr (DT == RWKVB_F32) {
        float v;
        std::memcpy(&v, p + i * 4, 4);
        return v;
    } else {
        uint16_t v;
        std::memcpy(&v, p + i * 2, 2);
        return DT == RWKVB_F16 ? rwkvb::f16_to_f32(v) : rwkvb::bf16_to_f32(v);  // exact in float
    }
}

#ifdef RWKVB_REF_AVX2
// Four consecutive elements widened to doubles.
template <int DT>
inline __m256d load4(const std::byte* p, int64_t i) {
    if constexpr (DT == RWKVB_F64) {
        return _mm256_loadu_pd(reinterpret_cast<const double*>(p) + i);
    } else if constexpr (DT == RWKVB_F32) {
        return _mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float*>(p) + i));
    } else {
        const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + i * 2));
        if constexpr (DT == RWKVB_F16) return _mm256_cvtps_pd(_mm_cvtph_ps(h));
        return _mm256_cvtps_pd(_mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16)));
    }
}

// Four independent accumulators over blocks of 16, then blocks of 4 into the first, then a
// scalar tail; combined in one fixed order. Same sequence for every row and every thread.
template <int DT>
double dot(const std::byte* w, const double* x, int64_t n) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_pd(load4<DT>(w, i), _mm256_loadu_pd(x + i), a0);
        a1 = _mm256_fmadd_pd(load4<DT>(w, i + 4), _mm256_loadu_pd(x + i + 4), a1);
        a2 = _mm256_fmadd_pd(load4<DT>(w, i + 8), _mm256_loadu_pd(x + i + 8), a2);
        a3 = _mm256_fmadd_pd(load4<DT>(w, i + 12), _mm256_loadu_pd(x + i + 12), a3);
    }
    for (; i + 4 <= n; i += 4) a0 = _mm256_fmadd_pd(load4<DT>(w, i), _mm256_loadu_pd(x + i), a0);
    const __m256d s = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, s);
    double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; ++i) total = std::fma(elem<DT>(w, i), x[i], total);
    return total;
}
#else
// Portable fallback with the same accumulation pattern (16 lanes, fixed combination order).
template <int DT>
double dot(const std::byte* w, const double* x, int64_t n) {
    double acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; ++j) acc[j] = std::fma(elem<DT>(w, i + j), x[i + j], acc[j]);
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; ++j) acc[j] = std::fma(elem<DT>(w, i + j), x[i + j], acc[j]);
    double lanes[4];
    for (int j = 0; j < 4; ++j) lanes[j] = (acc[j] + acc[4 + j]) + (acc[8 + j] + acc[12 + j]);
    double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; ++i) total = std::fma(elem<DT>(w, i), x[i], total);
    return total;
}
#endif

using DotFn = double (*)(const std::byte*, const double*, int64_t);

DotFn dot_for(int32_t dtype) {
    switch (dtype) {
        case RWKVB_F64: return dot<RWKVB_F64>;
        case RWKVB_F32: return dot<RWKVB_F32>;
        case RWKVB_F16: return dot<RWKVB_F16>;
        default: return dot<RWKVB_BF16>;
    }
}

// Below this many multiply-adds a product runs on the calling thread.
constexpr int64_t kMinParallelWork = 1 << 15;

template <int DT>
void row_times_block(const Mat& M, const double* x, int64_t o0, int64_t o1, double* y) {
    constexpr int64_t kBlock = 64;
    for (int64_t ob = o0; ob < o1; ob += kBlock) {
        const int64_t oe = std::min(ob + kBlock, o1);
        double acc[kBlock] = {};
        for (int64_t i = 0; i < M.rows; ++i) {
            const double xi = x[i];
            const int64_t base = i * M.cols;
            for (int64_t o = ob; o < oe; ++o) acc[o - ob] = std::fma(xi, elem<DT>(M.data, base + o), acc[o - ob]);
        }
        for (int64_t o = ob; o < oe; ++o) y[o] = acc[o - ob];
    }
}

}  // namespace

size_t float_dtype_size(int32_t dtype) {
    switch (dtype) {
        case RWKVB_F64: return 8;
        case RWKVB_F32: return 4;
        case RWKVB_F16:
        case RWKVB_BF16: return 2;
        default: return 0;
    }
}

double element_as_double(int32_t dtype, const void* data, size_t i) {
    const auto* p = static_cast<const std::byte*>(data);
    switch (dtype) {
        case RWKVB_F64: return elem<RWKVB_F64>(p, static_cast<int64_t>(i));
        case RWKVB_F32: return elem<RWKVB_F32>(p, static_cast<int64_t>(i));
        case RWKVB_F16: return elem<RWKVB_F16>(p, static_cast<int64_t>(i));
        default: return elem<RWKVB_BF16>(p, static_cast<int64_t>(i));
    }
}

Mat Mat::rows_slice(int64_t first, int64_t count) const {
    Mat m = *this;
    m.data = data + static_cast<size_t>(first * cols) * float_dtype_size(dtype);
    m.rows = count;
    return m;
}

double Mat::at(int64_t r, int64_t c) const { return element_as_double(dtype, data, static_cast<size_t>(r * cols + c)); }

double dot_row(const Mat& W, int64_t row, const double* x) {
    return dot_for(W.dtype)(W.data + static_cast<size_t>(row * W.cols) * float_dtype_size(W.dtype), x, W.cols);
}

void linear(ThreadPool& pool, const Mat& W, const double* X, int64_t R, double* Y) {
    const DotFn f = dot_for(W.dtype);
    const size_t row_bytes = static_cast<size_t>(W.cols) * float_dtype_size(W.dtype);
    // Each weight row is read once and used for all R input rows (it stays in L1 meanwhile).
    auto body = [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
            const std::byte* w = W.data + static_cast<size_t>(o) * row_bytes;
            for (int64_t t = 0; t < R; ++t) Y[t * W.rows + o] = f(w, X + t * W.cols, W.cols);
        }
    };
    if (W.rows * W.cols * R < kMinParallelWork)
        body(0, W.rows);
    else
        pool.parallel_for(W.rows, body);
}

void row_times(ThreadPool& pool, const Mat& M, const double* X, int64_t R, double* Y) {
    auto body = [&](int64_t o0, int64_t o1) {
        for (int64_t t = 0; t < R; ++t) {
            const double* x = X + t * M.rows;
            double* y = Y + t * M.cols;
            switch (M.dtype) {
                case RWKVB_F64: row_times_block<RWKVB_F64>(M, x, o0, o1, y); break;
                case RWKVB_F32: row_times_block<RWKVB_F32>(M, x, o0, o1, y); break;
                case RWKVB_F16: row_times_block<RWKVB_F16>(M, x, o0, o1, y); break;
                default: row_times_block<RWKVB_BF16>(M, x, o0, o1, y); break;
            }
        }
    };
    if (M.rows * M.cols * R < kMinParallelWork)
        body(0, M.cols);
    else
        pool.parallel_for(M.cols, body);
}

void layer_norm(const double* x, const double* w, const double* b, int64_t n, double eps, double* y) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= static_cast<double>(n);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * inv * w[i] + b[i];
}

void group_norm(const double* x, const double* w, const double* b, int64_t groups, int64_t size,
                double eps, double* y) {
    for (int64_t g = 0; g < groups; ++g) {
        const int64_t o = g * size;
        double mean = 0;
        for (int64_t i = 0; i < size; ++i) mean += x[o + i];
        mean /= static_cast<double>(size);
        double var = 0;
        for (int64_t i = 0; i < size; ++i) var += (x[o + i] - mean) * (x[o + i] - mean);
        var /= static_cast<double>(size);
        const double inv = 1.0 / std::sqrt(var + eps);
        for (int64_t i = 0; i < size; ++i) y[o + i] = (x[o + i] - mean) * inv * w[o + i] + b[o + i];
    }
}

}  // namespace rwkvb_ref
