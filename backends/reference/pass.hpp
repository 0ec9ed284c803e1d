// What one forward() call works on: the model, the threads, scratch memory, the recurrent
// state, and the R = batch × T activation rows, laid out [batch][T] (row = b·T + t).
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "model.hpp"
#include "thread_pool.hpp"

namespace rwkvb_ref {

// Recurrent state of `batch` streams in float64, per stream and layer in the canonical order of
// backend.h: [att_x D, wkv, ffn_x D], wkv = v4 [aa A, bb A, pp A]; v5/v6 S [h][key][value];
// v7 S [h][value][key].
struct State {
    int batch = 0;
    int64_t n_embd = 0, wkv_size = 0, n_layer = 0;
    int64_t v4_dim_att = 0;  // > 0 for v4, whose pp starts at -1e30
    std::vector<double> data;

    int64_t per_layer() const { return 2 * n_embd + wkv_size; }
    double* layer(int b, int l) { return data.data() + (static_cast<int64_t>(b) * n_layer + l) * per_layer(); }
    const double* layer(int b, int l) const {
        return data.data() + (static_cast<int64_t>(b) * n_layer + l) * per_layer();
    }
    void reset();  // zeros, and v4 pp = -1e30 (RWKV.md §2.2)
};

State make_state(const rwkvb_model_config& cfg, int batch);

// Scratch buffers reused across calls; handed out stack-wise so a layer's temporaries are
// released together. Growing one buffer never moves another.
class Scratch {
public:
    double* take(size_t n) {
        if (next_ == bufs_.size()) bufs_.emplace_back();
        auto& b = bufs_[next_++];
        if (b.size() < n) b.resize(n);
        return b.data();
    }
    size_t mark() const { return next_; }
    void release(size_t mark) { next_ = mark; }
    size_t bytes() const {
        size_t s = 0;
        for (const auto& b : bufs_) s += b.capacity() * sizeof(double);
        return s;
    }

private:
    std::deque<std::vector<double>> bufs_;
    size_t next_ = 0;
};

struct Pass {
    const Model& m;
    ThreadPool& pool;
    Scratch& scratch;
    State& state;
    int B, T;
    double* v_first = nullptr;  // v7: layer 0's value for every row, [R][A]

    int64_t R() const { return static_cast<int64_t>(B) * T; }
    double* att_x(int b, int l) { return state.layer(b, l); }
    double* wkv(int b, int l) { return state.layer(b, l) + state.n_embd; }
    double* ffn_x(int b, int l) { return state.layer(b, l) + state.n_embd + state.wkv_size; }

    // Token shift: the previous row of the same stream, or the carried state for t == 0.
    static const double* prev(const double* z, const double* carried, int b, int t, int T, int64_t width) {
        return t == 0 ? carried : z + (static_cast<int64_t>(b) * T + t - 1) * width;
    }
    // After a call the carried shift state is the last row of each stream.
    void keep_last(const double* z, double* (Pass::*slot)(int, int), int l) {
        const int64_t D = m.cfg.n_embd;
        for (int b = 0; b < B; ++b) {
            const double* last = z + (static_cast<int64_t>(b) * T + T - 1) * D;
            std::copy(last, last + D, (this->*slot)(b, l));
        }
    }
};

// One function per version and sub-layer, side by side with RWKV.md. Each reads the LN output
// z [R][D] and writes the sub-layer's output out [R][D] (added to the residual by the caller).
void time_mix_v4(Pass& P, int l, const double* z, double* out);     // §2.2
void channel_mix_v4(Pass& P, int l, const double* z, double* out);  // §2.3 (v4 and v5.x)
void time_mix_v5(Pass& P, int l, const double* z, double* out);     // §3.3 (5.0, 5.1, 5.2)
// v5/v6 WKV of head h over stream b's T rows (rwkv5.cpp); w_row = 0 for a static decay [A],
// else the row stride of a per-token decay [R][A].
void wkv_v5_head(Pass& P, int l, int b, int h, const double* r, const double* k, const double* v,
                 const double* w, int64_t w_row, const double* u, double* y);
void time_mix_v6(Pass& P, int l, const double* z, double* out);     // §4.2
void channel_mix_v6(Pass& P, int l, const double* z, double* out);  // §4.3
void time_mix_v7(Pass& P, int l, const double* z, double* out);     // §5.2
void channel_mix_v7(Pass& P, int l, const double* z, double* out);  // §5.3

// The whole forward pass of RWKV.md §1 over the R rows; logits (float64) as backend.h lays out.
void forward(Pass& P, const int32_t* tokens, double* logits, int which);

// Runs fn(b, h) for every stream and head (v5+ WKV scans: they are independent, each one
// sequential over t), across threads when the state work is large enough.
template <class Fn>
void for_each_stream_head(Pass& P, Fn&& fn) {
    const int64_t H = P.m.cfg.n_head, N = P.m.cfg.head_size;
    const int64_t tasks = P.B * H;
    auto body = [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) fn(static_cast<int>(i / H), static_cast<int>(i % H));
    };
    if (P.R() * H * N * N < (1 << 15))
        body(0, tasks);
    else
        P.pool.parallel_for(tasks, body);
}

constexpr double kLnEps = 1e-5;     // every LayerNorm (RWKV.md §0)
constexpr double kGnEps = 64e-5;    // GroupNorm of v5.x–v7 (RWKV.md §3.4)
constexpr double kV4PpInit = -1e30; // v4 initial pp (RWKV.md §2.2)
constexpr double kV7DecayScale = 0.606531;  // literal constant of the official package (§5.2)

}  // namespace rwkvb_ref
