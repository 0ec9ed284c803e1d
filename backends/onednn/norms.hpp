// LayerNorm (eps 1e-5) and per-head GroupNorm (eps 64e-5), row by row, f32 with two passes.
#pragma once
#include <cstdint>

namespace rwkvd {

// out[r] = LN(x[r]) ⊙ w + b for `rows` rows of length d (row strides ldx / ldo).
void layer_norm(const float* x, int64_t rows, int64_t d, int64_t ldx, const float* w, const float* b,
                float* out, int64_t ldo);
// In place: each of the `groups` contiguous groups of `n` in every row normalised by itself,
// then the full-length affine w, b (length groups·n).
void group_norm(float* x, int64_t rows, int64_t groups, int64_t n, const float* w, const float* b, float eps);

}  // namespace rwkvd
