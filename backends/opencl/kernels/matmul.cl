// Products with weights stored [N][K] row-major (the checkpoint's nn.Linear layout):
//   y[m][n] = act(sum_k x[m][k] * w[n][k])      or, with accumulate, y[m][n] += that sum.
// x rows are ldx floats apart, y rows ldy; offsets count floats.
//
// Few rows (decode): gemv_jobs runs a list of up to 8 products in one launch, since a token
// issues many small ones and each launch costs time. A job is an int8
//   (N, K, x_off, ldx, y_off, ldy, act + 8·accumulate, end)
// with `end` the running total of work units up to and including this job; unit u belongs to
// the first job whose end exceeds it. Two ways to cut a job into units (build option GEMV_GROUP):
//   rows  (CPUs): a work-item per 4 weight rows, VEC floats per load; the four rows stream from
//         memory side by side and share each load of x.
//   group (GPUs): a work-group of WG items per weight row, the items striding over k in VEC-wide
//         vectors so that neighbouring items read neighbouring weights (coalesced).
// Many rows (prefill): gemm, a work-item per TM×TN tile of y, VEC floats along k.
//
// Products are written a * b + c, not mad(): OpenCL C contracts that into an FMA where the device
// has one, while PoCL turns mad() into a separate multiply and add (twice the instructions).

#ifndef TM
#define TM 4
#endif
#ifndef TN
#define TN 2
#endif
#ifndef VEC
#define VEC 8
#endif

#define ACT_NONE 0
#define ACT_RELU2 1
#define ACT_SIGMOID 2
#define ACT_SILU 3
#define ACT_TANH 4

#if VEC == 16
typedef float16 floatv;
#define VLOADF(p, k) vload16(0, (p) + (k))
#define VLOADH(p, k) vload_half16(0, (p) + (k))
#define HSUM(a) hsum8((a).lo + (a).hi)
#elif VEC == 8
typedef float8 floatv;
#define VLOADF(p, k) vload8(0, (p) + (k))
#define VLOADH(p, k) vload_half8(0, (p) + (k))
#define HSUM(a) hsum8(a)
#else
typedef float4 floatv;
#define VLOADF(p, k) vload4(0, (p) + (k))
#define VLOADH(p, k) vload_half4(0, (p) + (k))
#define HSUM(a) (((a).x + (a).y) + ((a).z + (a).w))
#endif

#ifdef WEIGHT_F16
// Half storage needs no cl_khr_fp16: vload_half* converts to float on load (core OpenCL 1.2).
typedef half wtype;
#define LOADW(p, k) VLOADH(p, k)
#define LOADW1(p, k) vload_half(0, (p) + (k))
#else
typedef float wtype;
#define LOADW(p, k) VLOADF(p, k)
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

#ifndef GEMV_GROUP
// Weight rows 4u .. 4u+3 of one job for all M rows of x. Rows past N repeat row N−1 and are not
// stored. For M > 1 the 4 rows are read again from cache, not from memory.
inline void gemv_unit(__global const float* x, __global const wtype* w, __global float* y, int8 d,
                      int u, int M, __local float* scratch) {
    const int N = d.s0, K = d.s1, n0 = 4 * u;
    if (n0 >= N) return;
    const int act = d.s6 & 7, acc = d.s6 >> 3;
    __global const wtype* w0 = w + (size_t)n0 * K;
    __global const wtype* w1 = w + (size_t)min(n0 + 1, N - 1) * K;
    __global const wtype* w2 = w + (size_t)min(n0 + 2, N - 1) * K;
    __global const wtype* w3 = w + (size_t)min(n0 + 3, N - 1) * K;
    for (int m = 0; m < M; ++m) {
        __global const float* xm = x + d.s2 + (size_t)m * d.s3;
        floatv a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        int k = 0;
        for (; k + VEC <= K; k += VEC) {
            const floatv xv = VLOADF(xm, k);
            a0 = LOADW(w0, k) * xv + a0;
            a1 = LOADW(w1, k) * xv + a1;
            a2 = LOADW(w2, k) * xv + a2;
            a3 = LOADW(w3, k) * xv + a3;
        }
        float s0 = HSUM(a0), s1 = HSUM(a1), s2 = HSUM(a2), s3 = HSUM(a3);
        for (; k < K; ++k) {
            const float xv = xm[k];
            s0 = LOADW1(w0, k) * xv + s0;
            s1 = LOADW1(w1, k) * xv + s1;
            s2 = LOADW1(w2, k) * xv + s2;
            s3 = LOADW1(w3, k) * xv + s3;
        }
        __global float* ym = y + d.s4 + (size_t)m * d.s5 + n0;
        store_out(ym, s0, act, acc);
        if (n0 + 1 < N) store_out(ym + 1, s1, act, acc);
        if (n0 + 2 < N) store_out(ym + 2, s2, act, acc);
        if (n0 + 3 < N) store_out(ym + 3, s3, act, acc);
    }
}
#define GEMV_UNIT_ID get_global_id(0)
#else
// Weight row u of one job for all M rows of x, one work-group. Item i reads vectors i, i + WG,
// ... of the row, so each load instruction of the group covers WG·VEC neighbouring weights (wide,
// coalesced transactions; scalar loads left GPUs short of bytes in flight), then the < VEC tail.
inline void gemv_unit(__global const float* x, __global const wtype* w, __global float* y, int8 d,
                      int u, int M, __local float* scratch) {
    const int K = d.s1, lid = get_local_id(0), kv = K / VEC * VEC;
    __global const wtype* wr = w + (size_t)u * K;
    for (int m = 0; m < M; ++m) {
        __global const float* xm = x + d.s2 + (size_t)m * d.s3;
        floatv a = 0.0f;
        for (int k = lid * VEC; k < kv; k += WG * VEC) a = LOADW(wr, k) * VLOADF(xm, k) + a;
        float s = HSUM(a);
        for (int k = kv + lid; k < K; k += WG) s = LOADW1(wr, k) * xm[k] + s;
        s = group_sum(s, scratch, WG);
        if (lid == 0) store_out(y + d.s4 + (size_t)m * d.s5 + u, s, d.s6 & 7, d.s6 >> 3);
    }
}
#define GEMV_UNIT_ID get_group_id(0)
#endif

#define JOB_ARGS(i) __global const float *x##i, __global const wtype *w##i, __global float *y##i, int8 d##i
// The first job whose end exceeds u; its field v.
#define PICK(v) (u < d0.s7 ? v##0 : u < d1.s7 ? v##1 : u < d2.s7 ? v##2 : u < d3.s7 ? v##3 : \
                 u < d4.s7 ? v##4 : u < d5.s7 ? v##5 : u < d6.s7 ? v##6 : v##7)
#define PICK_START (u < d0.s7 ? 0 : u < d1.s7 ? d0.s7 : u < d2.s7 ? d1.s7 : u < d3.s7 ? d2.s7 : \
                    u < d4.s7 ? d3.s7 : u < d5.s7 ? d4.s7 : u < d6.s7 ? d5.s7 : d6.s7)

// units: the last job's end (the launch may be rounded up past it). Unused job slots repeat the
// last job. The job is chosen before any barrier, so a work-group takes one path.
__kernel void gemv_jobs(int M, int units, JOB_ARGS(0), JOB_ARGS(1), JOB_ARGS(2), JOB_ARGS(3),
                        JOB_ARGS(4), JOB_ARGS(5), JOB_ARGS(6), JOB_ARGS(7)) {
    __local float scratch[WG];  // the group variant's reduction
    const int u = GEMV_UNIT_ID;
    if (u >= units) return;
    gemv_unit(PICK(x), PICK(w), PICK(y), PICK(d), u - PICK_START, M, scratch);
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
    floatv acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    int k = 0;
    for (; k + VEC <= K; k += VEC) {
        floatv xv[TM];
#pragma unroll
        for (int i = 0; i < TM; ++i) xv[i] = VLOADF(xr[i], k);
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const floatv wv = LOADW(wr[j], k);
#pragma unroll
            for (int i = 0; i < TM; ++i) acc[i][j] = xv[i] * wv + acc[i][j];
        }
    }
    float s[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) s[i][j] = HSUM(acc[i][j]);
    for (; k < K; ++k) {
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const float wv = LOADW1(wr[j], k);
#pragma unroll
            for (int i = 0; i < TM; ++i) s[i][j] = xr[i][k] * wv + s[i][j];
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
