// The WKV recurrences, sequential over the T tokens of each stream (RWKV.md §2.2, §3.3, §4.2,
// §5.2). v5–v7: one work-group per (head, stream), one work-item per value channel, HEAD (= N)
// items; the token's r/k/w vectors are shared through local memory. `state` is the layer's:
// per stream [H][N][N].

#ifndef HEAD
#define HEAD 64
#endif

// v4: one work-item per (channel c, stream b); state per stream [aa A, bb A, pp A].
// y = r ⊙ wkv with r already through its sigmoid.
__kernel void wkv4(__global const float* r, __global const float* k, __global const float* v,
                   __global const float* decay, __global const float* first,
                   __global float* state, __global float* y, int T, int A) {
    const int c = get_global_id(0);
    const int b = get_global_id(1);
    if (c >= A) return;
    __global float* st = state + (size_t)b * 3 * A;
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
          __global float* state, __global float* y, int T, int H) {
    __local float lr[HEAD], lk[HEAD], lw[HEAD], lu[HEAD];
    const int j = get_local_id(0);
    const int h = get_group_id(0);
    const int b = get_group_id(1);
    const int A = H * HEAD;
    __global float* S = state + ((size_t)b * H + h) * HEAD * HEAD;
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
            acc = lr[i] * (lu[i] * kv + s[i]) + acc;
            s[i] = lw[i] * s[i] + kv;
        }
        y[o + j] = acc;
    }
    for (int i = 0; i < HEAD; ++i) S[i * HEAD + j] = s[i];
}

inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

inline float hsum4(float4 a) { return (a.x + a.y) + (a.z + a.w); }

#define HQ (HEAD / 4)  // the head in float4s (the host requires HEAD % 4 == 0 for v7)
#define AT(a, i) (((__local float*)(a))[i])

// v7, everything between the projections and the output projection, per (head h, stream b),
// token by token (RWKV.md §5.2). Item i is channel c = h·N + i of the head and keeps row i of
// the state S[i][j] (i value, j key). From the raw projections r, k, v and the LoRA outputs
// wl, al, vg (before their activations) and g (after):
//   kk = normalize(k ⊙ k_k) over the head;  a = σ(a0 + al);  k̃ = k ⊙ (1 + (a − 1) ⊙ k_a)
//   w = exp(−0.606531·σ(w0 + wl));  v += (v_first − v) ⊙ σ(v0 + vg) after layer 0 (layer 0
//   stores v_first instead)
//   sa = S·(−kk);  S ← S·diag(w) + sa (kk⊙a)ᵀ + v k̃ᵀ;  y = S·r
//   out = (GN(y; ln_x) + (Σ_j r·k̃·r_k) v) ⊙ g
// Two barriers per token: the token's vectors are shared through local memory, and every item
// computes the head's sums (‖k⊙k_k‖, the bonus, the GroupNorm moments) itself from them, in the
// same order, rather than through extra reduction rounds: barriers are what costs on CPU drivers.
// kk enters only through sa·kk_j = −(Σ S·kkr)·kkr_j / ‖kkr‖² with kkr = k ⊙ k_k unnormalised.
__kernel __attribute__((reqd_work_group_size(HEAD, 1, 1)))
void wkv7(__global const float* r, __global const float* k, __global const float* v,
          __global const float* wl, __global const float* al, __global const float* vg,
          __global const float* g, __global float* vfirst, int layer0,
          __global const float* w0, __global const float* a0, __global const float* v0,
          __global const float* k_k, __global const float* k_a, __global const float* r_k,
          __global const float* lnw, __global const float* lnb, float eps,
          __global float* state, __global float* out, int T, int H) {
    __local float4 lr[HQ], lw[HQ], lk[HQ], lkk[HQ], lb[HQ], lrk[HQ], ly[HQ];
    const int i = get_local_id(0);
    const int h = get_group_id(0);
    const int b = get_group_id(1);
    const int A = H * HEAD, c = h * HEAD + i;
    __global float* S = state + ((size_t)b * H + h) * HEAD * HEAD + (size_t)i * HEAD;
    float4 s[HQ];
    for (int q = 0; q < HQ; ++q) s[q] = vload4(q, S);
    AT(lrk, i) = r_k[c];
    for (int t = 0; t < T; ++t) {
        const size_t o = (size_t)(b * T + t) * A + c;
        const float kv = k[o], kkr = kv * k_k[c];
        const float av = sigmoid(a0[c] + al[o]);
        const float kt = kv * (1.0f + (av - 1.0f) * k_a[c]);
        float vv = v[o];
        if (layer0) vfirst[o] = vv;
        else vv = (vfirst[o] - vv) * sigmoid(v0[c] + vg[o]) + vv;
        AT(lr, i) = r[o];
        AT(lw, i) = exp(-0.606531f * sigmoid(w0[c] + wl[o]));
        AT(lk, i) = kt;
        AT(lkk, i) = kkr;
        AT(lb, i) = kkr * av;
        barrier(CLK_LOCAL_MEM_FENCE);
        float4 nn = 0.0f, sk = 0.0f, bo = 0.0f;
        for (int q = 0; q < HQ; ++q) {
            nn = lkk[q] * lkk[q] + nn;
            sk = s[q] * lkk[q] + sk;
            bo = lr[q] * lk[q] * lrk[q] + bo;
        }
        const float inv = 1.0f / fmax(sqrt(hsum4(nn)), 1e-12f);
        const float4 sab = (float4)(-hsum4(sk) * inv * inv);
        float4 y4 = 0.0f;
        for (int q = 0; q < HQ; ++q) {
            s[q] = s[q] * lw[q] + (sab * lb[q] + vv * lk[q]);
            y4 = s[q] * lr[q] + y4;
        }
        const float y = hsum4(y4);
        AT(ly, i) = y;
        barrier(CLK_LOCAL_MEM_FENCE);
        float4 m4 = 0.0f;
        for (int q = 0; q < HQ; ++q) m4 += ly[q];
        const float mean = hsum4(m4) / HEAD;
        float4 q4 = 0.0f;
        for (int q = 0; q < HQ; ++q) {
            const float4 d = ly[q] - mean;
            q4 = d * d + q4;
        }
        const float rstd = rsqrt(hsum4(q4) / HEAD + eps);
        out[o] = ((y - mean) * rstd * lnw[c] + lnb[c] + hsum4(bo) * vv) * g[o];
    }
    for (int q = 0; q < HQ; ++q) vstore4(s[q], q, S);
}
