// Token shift, mixing and other per-element work. Rows are m = b·T + t (stream b, token t).

// dz[m] = previous z − z[m], where the previous z of t = 0 comes from the state; the state then
// keeps z of the stream's last token. One work-item per (channel d, stream b).
__kernel void token_shift(__global const float* z, __global float* state, int s_off,
                          __global float* dz, int T, int D) {
    const int d = get_global_id(0);
    const int b = get_global_id(1);
    if (d >= D) return;
    __global float* st = state + s_off + (size_t)b * D;
    float prev = st[d];
    for (int t = 0; t < T; ++t) {
        const size_t i = (size_t)(b * T + t) * D + d;
        const float cur = z[i];
        dz[i] = prev - cur;
        prev = cur;
    }
    st[d] = prev;
}

// out_i = z + dz ⊙ mu_i for the n ≤ 6 mixes (mu packed [n][D]); v4/v5 μ are stored as 1-μ.
__kernel void shift_mix(__global const float* z, __global const float* dz, __global const float* mu,
                  int n, int D, __global float* o0, __global float* o1, __global float* o2,
                  __global float* o3, __global float* o4, __global float* o5) {
    const int d = get_global_id(0);
    const int m = get_global_id(1);
    if (d >= D) return;
    const size_t i = (size_t)m * D + d;
    const float zz = z[i], dd = dz[i];
    o0[i] = mad(dd, mu[d], zz);
    if (n > 1) o1[i] = mad(dd, mu[D + d], zz);
    if (n > 2) o2[i] = mad(dd, mu[2 * D + d], zz);
    if (n > 3) o3[i] = mad(dd, mu[3 * D + d], zz);
    if (n > 4) o4[i] = mad(dd, mu[4 * D + d], zz);
    if (n > 5) o5[i] = mad(dd, mu[5 * D + d], zz);
}

// v6: mm holds the 5 LoRA outputs [5][M][D] (w, k, v, r, g); in place mm_s = z + dz ⊙ (μ_s + mm_s).
__kernel void v6_mix(__global const float* z, __global const float* dz, __global const float* mu,
                     __global float* mm, int M, int D) {
    const int d = get_global_id(0);
    const int m = get_global_id(1);
    if (d >= D) return;
    const size_t i = (size_t)m * D + d;
    const size_t plane = (size_t)M * D;
    const float zz = z[i], dd = dz[i];
    for (int s = 0; s < 5; ++s) mm[s * plane + i] = mad(dd, mu[s * D + d] + mm[s * plane + i], zz);
}

// v6: decay in place, w = exp(-exp(time_decay + lora)).
__kernel void v6_decay(__global float* w, __global const float* time_decay, int A) {
    const int c = get_global_id(0);
    const int m = get_global_id(1);
    if (c >= A) return;
    const size_t i = (size_t)m * A + c;
    w[i] = exp(-exp(time_decay[c] + w[i]));
}

// x += r ⊙ v with r already through its sigmoid (v4/v5/v6 channel mix).
__kernel void mul_add(__global float* x, __global const float* r, __global const float* v, int D) {
    const int d = get_global_id(0);
    const int m = get_global_id(1);
    if (d >= D) return;
    const size_t i = (size_t)m * D + d;
    x[i] = mad(r[i], v[i], x[i]);
}

// Sets n floats to value (state reset; v4's pp starts at -1e30).
__kernel void fill(__global float* p, int off, float value, int n) {
    const int i = get_global_id(0);
    if (i < n) p[off + i] = value;
}
