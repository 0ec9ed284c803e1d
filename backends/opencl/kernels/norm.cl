// Normalisations: `split` work-groups per row (LayerNorm, and LayerNorm fused with the token shift
// and the mixes) or one per (row, head) (GroupNorm). WG, the work-group size of these reductions,
// is set at build time from the device limits.
//
// Why split a row: decode has one row per stream, and one work-group per row left a GPU with one
// busy compute unit walking 2048 channels (rwkv7-1.5b on an H200: 40% of a decode step). Each of
// a row's groups computes the row's moments itself (a second read of a few KB, from cache) and
// then writes only its slice of the channels, so it stays one launch.

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

// (mean, 1/sqrt(variance + eps)) of the n floats at p, reduced over the WG items of the group.
inline float2 moments(__global const float* p, int n, float eps, __local float* scratch) {
    const int lid = get_local_id(0);
    float s = 0.0f;
    for (int i = lid; i < n; i += WG) s += p[i];
    const float mean = group_sum(s, scratch, WG) / n;
    float q = 0.0f;
    for (int i = lid; i < n; i += WG) { const float d = p[i] - mean; q += d * d; }
    return (float2)(mean, rsqrt(group_sum(q, scratch, WG) / n + eps));
}

// The channels [*first, *end) of D that group j of a row's `split` groups writes.
inline void row_slice(int j, int split, int D, int* first, int* end) {
    const int len = (D + split - 1) / split;
    *first = min(D, j * len);
    *end = min(D, *first + len);
}

// y[r] = LN(x[in_row(r)]) with in_row(r) = r * in_stride + in_offset; rows of D floats, `split`
// groups per row (1 when y is x). ln0 uses stride 1, offset 0; LAST-token logits use stride T,
// offset T-1.
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void layernorm(__global const float* x, int in_stride, int in_offset, __global float* y,
               __global const float* gamma, __global const float* beta, int D, float eps, int split) {
    __local float scratch[WG];
    const int r = get_group_id(0) / split;
    const int lid = get_local_id(0);
    int first, end;
    row_slice(get_group_id(0) % split, split, D, &first, &end);
    __global const float* xr = x + (size_t)(r * in_stride + in_offset) * D;
    __global float* yr = y + (size_t)r * D;
    const float2 mr = moments(xr, D, eps, scratch);
    for (int i = first + lid; i < end; i += WG) yr[i] = (xr[i] - mr.x) * mr.y * gamma[i] + beta[i];
}

// The block's pre-norm, token shift and mixes in one pass, `split` groups per row m = b·T + t:
//   z = LN(x[m]);  prev = t > 0 ? LN(x[m−1]) : state[b];  dz = prev − z;  o_i = z + dz ⊙ mu_i
// for the n ≤ 6 mixes (mu packed [n][D]; v4/v5 store 1−μ). The previous row's norm is computed
// again here rather than read back, so the pass needs no second launch. The last token's z goes
// to state_out[b]: that is the state itself when T = 1 (the group reads its state before it
// writes it: a group reads and writes only its own slice); for T > 1 another row's group still
// reads the state, so the host copies it afterwards.
// keep = 1 also writes z and dz (v6 mixes again after its LoRA).
__kernel __attribute__((reqd_work_group_size(WG, 1, 1)))
void ln_mix(__global const float* x, __global const float* gamma, __global const float* beta, float eps,
            __global const float* state, __global float* state_out, int T, int D,
            __global const float* mu, int n, __global float* o0, __global float* o1, __global float* o2,
            __global float* o3, __global float* o4, __global float* o5,
            int keep, __global float* z_out, __global float* dz_out, int split) {
    __local float scratch[WG];
    const int m = get_group_id(0) / split;
    const int lid = get_local_id(0);
    int first, end;
    row_slice(get_group_id(0) % split, split, D, &first, &end);
    const int b = m / T, t = m % T;
    __global const float* xr = x + (size_t)m * D;
    const float2 cur = moments(xr, D, eps, scratch);
    // T is the same for every group, so this branch (barriers inside) is uniform; with T > 1 the
    // t = 0 groups compute their own row's moments again, unused. Decode (T = 1) skips it.
    const float2 prev = T > 1 ? moments(t > 0 ? xr - D : xr, D, eps, scratch) : cur;
    __global const float* st = state + (size_t)b * D;
    const size_t row = (size_t)m * D;
    for (int d = first + lid; d < end; d += WG) {
        const float z = (xr[d] - cur.x) * cur.y * gamma[d] + beta[d];
        const float p = t > 0 ? (xr[d - D] - prev.x) * prev.y * gamma[d] + beta[d] : st[d];
        const float dz = p - z;
        const size_t i = row + d;
        o0[i] = dz * mu[d] + z;
        if (n > 1) o1[i] = dz * mu[D + d] + z;
        if (n > 2) o2[i] = dz * mu[2 * D + d] + z;
        if (n > 3) o3[i] = dz * mu[3 * D + d] + z;
        if (n > 4) o4[i] = dz * mu[4 * D + d] + z;
        if (n > 5) o5[i] = dz * mu[5 * D + d] + z;
        if (keep) {
            z_out[i] = z;
            dz_out[i] = dz;
        }
        if (t == T - 1) state_out[(size_t)b * D + d] = z;
    }
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
    const float2 mr = moments(y + base, N, eps, scratch);
    for (int i = lid; i < N; i += WG) {
        const int c = h * N + i;
        float o = (y[base + i] - mr.x) * mr.y * lnw[c] + lnb[c];
        if (has_gate) o *= g[base + i];
        out[base + i] = o;
    }
}
