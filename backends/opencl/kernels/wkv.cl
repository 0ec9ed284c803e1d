// The WKV recurrences, sequential over the T tokens of each stream (RWKV.md §2.2, §3.3, §4.2,
// §5.2). v5–v7: one work-group per (head, stream), one work-item per value channel, HEAD (= N)
// items; the token's r/k/w vectors are shared through local memory. State offsets s_off select
// the layer; per stream the state is [H][N][N].

#ifndef HEAD
#define HEAD 64
#endif

// v4: one work-item per (channel c, stream b); state per stream [aa A, bb A, pp A].
// y = r ⊙ wkv with r already through its sigmoid.
__kernel void wkv4(__global const float* r, __global const float* k, __global const float* v,
                   __global const float* decay, __global const float* first,
                   __global float* state, int s_off, __global float* y, int T, int A) {
    const int c = get_global_id(0);
    const int b = get_global_id(1);
    if (c >= A) return;
    __global float* st = state + s_off + (size_t)b * 3 * A;
    float aa = st[c], bb = st[A + c], pp = st[2 * A + c];
    const float w = decay[c], u = first[c];
    for (int t = 0; t < T; ++t) {
        const size_t i = (size_t)(b * T + t) * A + c;
        const float kk = k[i], vv = v[i];
        float q = fmax(pp, u + kk);
        float e1 = exp(pp - q), e2 = exp(u + kk - q);
        y[i] = r[i] * (e1 * aa + e2 * vv) / (e1 * bb + e2);
        q = fmax(pp + w, kk);
        e1 = exp(pp + w - q);
        e2 = exp(kk - q);
        aa = e1 * aa + e2 * vv;
        bb = e1 * bb + e2;
        pp = q;
    }
    st[c] = aa;
    st[A + c] = bb;
    st[2 * A + c] = pp;
}

// v5.x / v6: S[i][j] (i key, j value). w has a row stride of 0 (v5: static per channel) or A
// (v6: per token). Work-item j keeps column j of S in private memory.
__kernel __attribute__((reqd_work_group_size(HEAD, 1, 1)))
void wkv5(__global const float* r, __global const float* k, __global const float* v,
          __global const float* w, int w_stride, __global const float* u,
          __global float* state, int s_off, __global float* y, int T, int H) {
    __local float lr[HEAD], lk[HEAD], lw[HEAD], lu[HEAD];
    const int j = get_local_id(0);
    const int h = get_group_id(0);
    const int b = get_group_id(1);
    const int A = H * HEAD;
    __global float* S = state + s_off + ((size_t)b * H + h) * HEAD * HEAD;
    float s[HEAD];
    for (int i = 0; i < HEAD; ++i) s[i] = S[i * HEAD + j];
    lu[j] = u[h * HEAD + j];
    for (int t = 0; t < T; ++t) {
        const size_t row = (size_t)(b * T + t);
        const size_t o = row * A + h * HEAD;
        barrier(CLK_LOCAL_MEM_FENCE);
        lr[j] = r[o + j];
        lk[j] = k[o + j];
        lw[j] = w[row * w_stride + h * HEAD + j];
        barrier(CLK_LOCAL_MEM_FENCE);
        const float vj = v[o + j];
        float acc = 0.0f;
        for (int i = 0; i < HEAD; ++i) {
            const float kv = lk[i] * vj;
            acc = mad(lr[i], mad(lu[i], kv, s[i]), acc);
            s[i] = mad(lw[i], s[i], kv);
        }
        y[o + j] = acc;
    }
    for (int i = 0; i < HEAD; ++i) S[i * HEAD + j] = s[i];
}

// v7 preparation, one work-group per (head, row), one item per channel of the head:
// kk = normalize(k ⊙ k_k) per head; a = σ(a0 + a); k̃ = k ⊙ (1 + (a − 1) ⊙ k_a);
// w = exp(−0.606531·σ(w0 + w)); value residual v += (v_first − v) ⊙ σ(v0 + vg) after layer 0
// (layer 0 stores v_first instead). All in place except kk.
__kernel __attribute__((reqd_work_group_size(HEAD, 1, 1)))
void v7_prep(__global float* k, __global float* v, __global float* w, __global float* a,
             __global const float* vg, __global float* vfirst, __global float* kk,
             __global const float* w0, __global const float* a0, __global const float* v0,
             __global const float* k_k, __global const float* k_a, int layer0, int A) {
    __local float scratch[HEAD];
    const int j = get_local_id(0);
    const int h = get_group_id(0);
    const int m = get_group_id(1);
    const int c = h * HEAD + j;
    const size_t i = (size_t)m * A + c;
    const float kv = k[i];
    const float kkv = kv * k_k[c];
    const float norm = sqrt(group_sum(kkv * kkv, scratch, HEAD));
    kk[i] = kkv / fmax(norm, 1e-12f);
    const float av = 1.0f / (1.0f + exp(-(a0[c] + a[i])));
    a[i] = av;
    k[i] = kv * (1.0f + (av - 1.0f) * k_a[c]);
    w[i] = exp(-0.606531f / (1.0f + exp(-(w0[c] + w[i]))));
    if (layer0) {
        vfirst[i] = v[i];
    } else {
        const float vv = v[i];
        v[i] = mad(vfirst[i] - vv, 1.0f / (1.0f + exp(-(v0[c] + vg[i]))), vv);
    }
}

// v7: S[i][j] (i value, j key); work-item i keeps row i of S.
//   sa = S·(−kk);  S ← S·diag(w) + sa (kk⊙a)ᵀ + v k̃ᵀ;  y = S·r
__kernel __attribute__((reqd_work_group_size(HEAD, 1, 1)))
void wkv7(__global const float* r, __global const float* w, __global const float* k,
          __global const float* v, __global const float* kk, __global const float* a,
          __global float* state, int s_off, __global float* y, int T, int H) {
    __local float lr[HEAD], lw[HEAD], lk[HEAD], lkk[HEAD], lb[HEAD];
    const int i = get_local_id(0);
    const int h = get_group_id(0);
    const int b = get_group_id(1);
    const int A = H * HEAD;
    __global float* S = state + s_off + ((size_t)b * H + h) * HEAD * HEAD;
    float s[HEAD];
    for (int j = 0; j < HEAD; ++j) s[j] = S[i * HEAD + j];
    for (int t = 0; t < T; ++t) {
        const size_t o = (size_t)(b * T + t) * A + h * HEAD;
        barrier(CLK_LOCAL_MEM_FENCE);
        lr[i] = r[o + i];
        lw[i] = w[o + i];
        lk[i] = k[o + i];
        lkk[i] = kk[o + i];
        lb[i] = kk[o + i] * a[o + i];
        barrier(CLK_LOCAL_MEM_FENCE);
        const float vi = v[o + i];
        float sa = 0.0f;
        for (int j = 0; j < HEAD; ++j) sa = mad(s[j], -lkk[j], sa);
        float acc = 0.0f;
        for (int j = 0; j < HEAD; ++j) {
            s[j] = mad(s[j], lw[j], mad(sa, lb[j], vi * lk[j]));
            acc = mad(s[j], lr[j], acc);
        }
        y[o + i] = acc;
    }
    for (int j = 0; j < HEAD; ++j) S[i * HEAD + j] = s[j];
}
