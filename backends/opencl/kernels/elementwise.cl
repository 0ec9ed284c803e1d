// Per-element work. Rows are m = b·T + t (stream b, token t). The token shift and the mixes
// are fused into the pre-norm (ln_mix in norm.cl).

// v6: mm holds the 5 LoRA outputs [5][M][D] (w, k, v, r, g); in place mm_s = z + dz ⊙ (μ_s + mm_s).
__kernel void v6_mix(__global const float* z, __global const float* dz, __global const float* mu,
                     __global float* mm, int M, int D) {
    const int d = get_global_id(0);
    const int m = get_global_id(1);
    if (d >= D) return;
    const size_t i = (size_t)m * D + d;
    const size_t plane = (size_t)M * D;
    const float zz = z[i], dd = dz[i];
    for (int s = 0; s < 5; ++s) mm[s * plane + i] = dd * (mu[s * D + d] + mm[s * plane + i]) + zz;
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
    x[i] = r[i] * v[i] + x[i];
}

// State reset: p[i] = a where i mod period < split, else b (v4's per-stream [aa, bb, pp] starts
// at 0, 0, −1e30; everything else is zero).
__kernel void fill(__global float* p, int n, int period, int split, float a, float b) {
    const int i = get_global_id(0);
    if (i < n) p[i] = i % period < split ? a : b;
}
