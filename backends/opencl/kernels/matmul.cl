// Products with weights stored [N][K] row-major (the checkpoint's nn.Linear layout):
//   y[m][n] = act(sum_k x[m][k] * w[n][k])      or, with accumulate, y[m][n] += that sum.
// x rows are ldx floats apart; y rows ldy. x_off / y_off are element offsets into the buffers.
// gemv: one work-item per output column n, all M rows (few rows: decode on CPUs, where one
//       work-item streams one weight row).
// gemv_wg: one work-group of WG items per output column, the items striding over k so that
//       neighbouring items read neighbouring weights (coalesced: decode on GPUs).
// gemm: one work-item per TM×TN tile of y, float8 along k (many rows: prefill).

#ifndef TM
#define TM 4
#endif
#ifndef TN
#define TN 2
#endif

#define ACT_NONE 0
#define ACT_RELU2 1
#define ACT_SIGMOID 2
#define ACT_SILU 3
#define ACT_TANH 4

#ifdef WEIGHT_F16
// Half storage needs no cl_khr_fp16: vload_half* converts to float on load (core OpenCL 1.2).
typedef half wtype;
#define LOADW8(p, k) vload_half8(0, (p) + (k))
#define LOADW1(p, k) vload_half(0, (p) + (k))
#else
typedef float wtype;
#define LOADW8(p, k) vload8(0, (p) + (k))
#define LOADW1(p, k) ((p)[k])
#endif

inline float hsum8(float8 a) {
    float4 s = a.lo + a.hi;
    return (s.x + s.y) + (s.z + s.w);
}

inline float apply_act(float v, int act) {
    switch (act) {
    case ACT_RELU2: { float r = fmax(v, 0.0f); return r * r; }
    case ACT_SIGMOID: return 1.0f / (1.0f + exp(-v));
    case ACT_SILU: return v / (1.0f + exp(-v));
    case ACT_TANH: return tanh(v);
    default: return v;
    }
}

inline void store_out(__global float* y, float v, int act, int accumulate) {
    v = apply_act(v, act);
    if (accumulate) *y += v; else *y = v;
}

__kernel void gemv(__global const float* x, int x_off, int ldx,
                   __global const wtype* w,
                   __global float* y, int y_off, int ldy,
                   int M, int N, int K, int act, int accumulate) {
    const int n = get_global_id(0);
    if (n >= N) return;
    x += x_off;
    y += y_off;
    __global const wtype* wr = w + (size_t)n * K;
    for (int m0 = 0; m0 < M; m0 += 4) {
        const int mc = min(4, M - m0);
        // Rows past M repeat the last row; their results are dropped.
        __global const float* x0 = x + (size_t)m0 * ldx;
        __global const float* x1 = x + (size_t)min(m0 + 1, M - 1) * ldx;
        __global const float* x2 = x + (size_t)min(m0 + 2, M - 1) * ldx;
        __global const float* x3 = x + (size_t)min(m0 + 3, M - 1) * ldx;
        float8 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        int k = 0;
        if (mc == 1) {
            float8 b0 = 0.0f;  // two chains hide the FMA latency
            for (; k + 16 <= K; k += 16) {
                a0 = mad(LOADW8(wr, k), vload8(0, x0 + k), a0);
                b0 = mad(LOADW8(wr, k + 8), vload8(0, x0 + k + 8), b0);
            }
            a0 += b0;
            for (; k + 8 <= K; k += 8) a0 = mad(LOADW8(wr, k), vload8(0, x0 + k), a0);
        } else {
            for (; k + 8 <= K; k += 8) {
                const float8 wv = LOADW8(wr, k);
                a0 = mad(wv, vload8(0, x0 + k), a0);
                a1 = mad(wv, vload8(0, x1 + k), a1);
                a2 = mad(wv, vload8(0, x2 + k), a2);
                a3 = mad(wv, vload8(0, x3 + k), a3);
            }
        }
        float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
        for (; k < K; ++k) {
            const float wv = LOADW1(wr, k);
            s0 = mad(wv, x0[k], s0);
            s1 = mad(wv, x1[k], s1);
            s2 = mad(wv, x2[k], s2);
            s3 = mad(wv, x3[k], s3);
        }
        store_out(y + (size_t)m0 * ldy + n, s0, act, accumulate);
        if (mc > 1) store_out(y + (size_t)(m0 + 1) * ldy + n, s1, act, accumulate);
        if (mc > 2) store_out(y + (size_t)(m0 + 2) * ldy + n, s2, act, accumulate);
        if (mc > 3) store_out(y + (size_t)(m0 + 3) * ldy + n, s3, act, accumulate);
    }
}

__kernel void gemm(__global const float* x, int x_off, int ldx,
                   __global const wtype* w,
                   __global float* y, int y_off, int ldy,
                   int M, int N, int K, int act, int accumulate) {
    const int n0 = get_global_id(0) * TN;
    const int m0 = get_global_id(1) * TM;
    if (n0 >= N || m0 >= M) return;
    x += x_off;
    y += y_off;
    __global const float* xr[TM];
    __global const wtype* wr[TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) xr[i] = x + (size_t)min(m0 + i, M - 1) * ldx;
#pragma unroll
    for (int j = 0; j < TN; ++j) wr[j] = w + (size_t)min(n0 + j, N - 1) * K;
    float8 acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        float8 xv[TM];
#pragma unroll
        for (int i = 0; i < TM; ++i) xv[i] = vload8(0, xr[i] + k);
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const float8 wv = LOADW8(wr[j], k);
#pragma unroll
            for (int i = 0; i < TM; ++i) acc[i][j] = mad(xv[i], wv, acc[i][j]);
        }
    }
    float s[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) s[i][j] = hsum8(acc[i][j]);
    for (; k < K; ++k) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const float wv = LOADW1(wr[j], k);
#pragma unroll
            for (int i = 0; i < TM; ++i) s[i][j] = mad(xr[i][k], wv, s[i][j]);
        }
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
        if (m0 + i >= M) break;
#pragma unroll
        for (int j = 0; j < TN; ++j)
            if (n0 + j < N) store_out(y + (size_t)(m0 + i) * ldy + n0 + j, s[i][j], act, accumulate);
    }
}


__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void gemv_wg(__global const float* x, int x_off, int ldx,
             __global const wtype* w,
             __global float* y, int y_off, int ldy,
             int M, int N, int K, int act, int accumulate) {
    __local float scratch[WG];
    const int n = get_group_id(0);
    const int lid = get_local_id(0);
    x += x_off;
    y += y_off;
    __global const wtype* wr = w + (size_t)n * K;
    for (int m = 0; m < M; ++m) {
        __global const float* xm = x + (size_t)m * ldx;
        float s = 0.0f;
        for (int k = lid; k < K; k += WG) s = mad(LOADW1(wr, k), xm[k], s);
        s = group_sum(s, scratch, WG);
        if (lid == 0) store_out(y + (size_t)m * ldy + n, s, act, accumulate);
    }
}
