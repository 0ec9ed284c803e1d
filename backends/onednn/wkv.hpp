// The WKV recurrences (RWKV.md §2.2, §3.3, §4.2, §5.2), one stream and T tokens per call; inputs
// are rows of length A (or N per head) with row stride `ld`. The state is updated in place and
// uses the canonical export layouts, so state_export is a copy.
#pragma once
#include <cstdint>

namespace rwkvd {

// v4, channels [c0, c1): w = -exp(time_decay), u = time_first; aa/bb/pp per channel.
void wkv4(int64_t T, int64_t c0, int64_t c1, const float* k, const float* v, int64_t ld,
          const float* w, const float* u, float* aa, float* bb, float* pp, float* y);

// v5.x/v6, one head of size N: S[i][j] (i key, j value). Decay w: per token (v6, row stride
// w_ld) or static (w_ld = 0). u = bonus. Rows point at this head's slice.
void wkv5_head(int64_t T, int64_t N, const float* r, const float* k, const float* v, int64_t ld,
               const float* w, int64_t w_ld, const float* u, float* S, float* y);

// v7, one head: S[i][j] (i value, j key). α = -κ̂, β = κ̂⊙a, kt = k̃; y_t = S_t r_t.
void wkv7_head(int64_t T, int64_t N, const float* r, const float* w, const float* kt, const float* v,
               const float* alpha, const float* beta, int64_t ld, float* S, float* y);

}  // namespace rwkvd
