// Normalisations: one work-group per row (LayerNorm) or per (row, head) (GroupNorm).
// WG, the work-group size of these reductions, is set at build time from the device limits.

#ifndef WG
#define WG 64
#endif

// Sum of v over a work-group of `size` items; every work-item gets the total. scratch holds
// size floats.
inline float group_sum(float v, __local float* scratch, int size) {
    const int lid = get_local_id(0);
    barrier(CLK_LOCAL_MEM_FENCE);
    scratch[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    int p = 1;
    while (p < size) p <<= 1;
    for (int s = p / 2; s > 0; s >>= 1) {
        if (lid < s && lid + s < size) scratch[lid] += scratch[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return total;
}
#define wg_sum(v, scratch) group_sum((v), (scratch), WG)

// y[r] = LN(x[in_row(r)]) with in_row(r) = r * in_stride + in_offset; rows of D floats.
// LAST-token logits use stride T, offset T-1; everything else stride 1, offset 0.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void layernorm(__global const float* x, int in_stride, int in_offset, __global float* y,
               __global const float* gamma, __global const float* beta, int D, float eps) {
    __local float scratch[WG];
    const int r = get_group_id(0);
    const int lid = get_local_id(0);
    __global const float* xr = x + (size_t)(r * in_stride + in_offset) * D;
    __global float* yr = y + (size_t)r * D;
    float s = 0.0f;
    for (int i = lid; i < D; i += WG) s += xr[i];
    const float mean = wg_sum(s, scratch) / D;
    float q = 0.0f;
    for (int i = lid; i < D; i += WG) { const float d = xr[i] - mean; q += d * d; }
    const float rstd = rsqrt(wg_sum(q, scratch) / D + eps);
    for (int i = lid; i < D; i += WG) yr[i] = (xr[i] - mean) * rstd * gamma[i] + beta[i];
}

// v5/v6: out = GN(y; ln_x) [⊙ g]. Group (head h, row m); A = H·N channels per row.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void groupnorm_gate(__global const float* y, __global const float* g, int has_gate,
                    __global const float* lnw, __global const float* lnb, __global float* out,
                    int N, int A, float eps) {
    __local float scratch[WG];
    const int h = get_group_id(0);
    const int m = get_group_id(1);
    const int lid = get_local_id(0);
    const size_t base = (size_t)m * A + (size_t)h * N;
    float s = 0.0f;
    for (int i = lid; i < N; i += WG) s += y[base + i];
    const float mean = wg_sum(s, scratch) / N;
    float q = 0.0f;
    for (int i = lid; i < N; i += WG) { const float d = y[base + i] - mean; q += d * d; }
    const float rstd = rsqrt(wg_sum(q, scratch) / N + eps);
    for (int i = lid; i < N; i += WG) {
        const int c = h * N + i;
        float o = (y[base + i] - mean) * rstd * lnw[c] + lnb[c];
        if (has_gate) o *= g[base + i];
        out[base + i] = o;
    }
}

// v7: out = (GN(y; ln_x) + (Σ_j r·k̃·r_k) v) ⊙ g, per head; the bonus is added after the norm.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void v7_groupnorm_bonus(__global const float* y, __global const float* r, __global const float* k,
                        __global const float* v, __global const float* r_k, __global const float* g,
                        __global const float* lnw, __global const float* lnb, __global float* out,
                        int N, int A, float eps) {
    __local float scratch[WG];
    const int h = get_group_id(0);
    const int m = get_group_id(1);
    const int lid = get_local_id(0);
    const size_t base = (size_t)m * A + (size_t)h * N;
    float s = 0.0f, b = 0.0f;
    for (int i = lid; i < N; i += WG) {
        s += y[base + i];
        b += r[base + i] * k[base + i] * r_k[h * N + i];
    }
    const float mean = wg_sum(s, scratch) / N;
    const float bonus = wg_sum(b, scratch);
    float q = 0.0f;
    for (int i = lid; i < N; i += WG) { const float d = y[base + i] - mean; q += d * d; }
    const float rstd = rsqrt(wg_sum(q, scratch) / N + eps);
    for (int i = lid; i < N; i += WG) {
        const int c = h * N + i;
        const float o = (y[base + i] - mean) * rstd * lnw[c] + lnb[c] + bonus * v[base + i];
        out[base + i] = o * g[base + i];
    }
}
