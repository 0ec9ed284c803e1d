#include "matmul.hpp"

#include "dtype.hpp"  // rwkvb::f32_to_f16 / f32_to_bf16 (round to nearest even)
#include "gemv_kernels.hpp"

#include <algorithm>
#include <cmath>

namespace rwkvd {

Linear make_linear(const float* src, int64_t n, int64_t k, bool src_in_out, WType type) {
    Linear l;
    l.n = n;
    l.k = k;
    l.type = type;
    l.label = std::to_string(n) + "x" + std::to_string(k) + " " + wtype_name(type);
    auto at = [&](int64_t r, int64_t c) { return src_in_out ? src[c * n + r] : src[r * k + c]; };
    const size_t total = size_t(n) * size_t(k);
    switch (type) {
    case WType::F32:
        l.f32.resize(total);
#pragma omp parallel for schedule(static) if (total > (1 << 20))
        for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < k; ++c) l.f32[r * k + c] = at(r, c);
        break;
    case WType::F16:
    case WType::BF16:
        l.h16.resize(total);
#pragma omp parallel for schedule(static) if (total > (1 << 20))
        for (int64_t r = 0; r < n; ++r)
            for (int64_t c = 0; c < k; ++c)
                l.h16[r * k + c] = type == WType::F16 ? rwkvb::f32_to_f16(at(r, c)) : rwkvb::f32_to_bf16(at(r, c));
        break;
    case WType::S8:
        // Symmetric, one scale per output row: scale = max|w| / 127, q = round(w / scale).
        l.q8.resize(total);
        l.scale.resize(size_t(n));
#pragma omp parallel for schedule(static) if (total > (1 << 20))
        for (int64_t r = 0; r < n; ++r) {
            float amax = 0.f;
            for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(at(r, c)));
            const float s = amax > 0.f ? amax / 127.f : 1.f;
            l.scale[r] = s;
            const float inv = 1.f / s;
            for (int64_t c = 0; c < k; ++c) {
                float q = std::nearbyint(at(r, c) * inv);
                l.q8[r * k + c] = static_cast<int8_t>(std::clamp(q, -127.f, 127.f));
            }
        }
        break;
    }
    return l;
}

Matmul::Matmul(Parallel& par) : par_(par), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {}

void Matmul::onednn(const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx,
                    float* y, int64_t ldy) {
    // Column chunks of at most kColumnChunk outputs, one GEMM each: with our [n][k] weights
    // oneDNN's brgemm copies B per call, and on chunks of ~384 columns it ran 3–8% faster than on
    // the whole matrix (bench_onednn BM_Linear M=512; the widest, 768→3072, gained most).
    const int64_t c = std::min(chunk_, n), parts = (n + c - 1) / c, step = (n + parts - 1) / parts;
    for (int64_t n0 = 0; n0 < n; n0 += step) gemm(w + n0 * k, std::min(step, n - n0), k, x, m, ldx, y + n0, ldy);
    strm_.wait();
}

void Matmul::gemm(const float* w, int64_t n, int64_t k, const float* x, int64_t m, int64_t ldx, float* y,
                  int64_t ldy) {
    using dnnl::memory;
    const Key key{m, k, n, ldx, ldy};
    auto it = cache_.find(key);
    // Weights described as K×N with strides {1, K}: oneDNN's "ba", i.e. our [n][k] rows used
    // in place. (format_tag::any asks for a blocked BA16a64b copy on AVX-512 hosts, ~the same
    // speed as these column chunks, at the price of a second copy of every f32 matrix or
    // decode kernels for that layout.)
    memory::desc src_md({m, k}, memory::data_type::f32, memory::dims{ldx, 1});
    memory::desc wei_md({k, n}, memory::data_type::f32, memory::dims{1, k});
    memory::desc dst_md({m, n}, memory::data_type::f32, memory::dims{ldy, 1});
    if (it == cache_.end()) {
        dnnl::matmul::desc d(src_md, wei_md, dst_md);
        dnnl::matmul::primitive_desc pd(d, eng_);
        it = cache_.emplace(key, dnnl::matmul(pd)).first;
    }
    memory src(src_md, eng_, const_cast<float*>(x));
    memory wei(wei_md, eng_, const_cast<float*>(w));
    memory dst(dst_md, eng_, y);
    it->second.execute(strm_, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
}

namespace {

// profile=1's name for a group: "matmul 3×768x768 f16 + 64x768 f16" (runs of one shape counted).
std::string group_label(const Linear* const* ws, int64_t n) {
    std::string label = "matmul";
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && ws[j]->label == ws[i]->label) ++j;
        label += (i ? " + " : " ") + (j - i > 1 ? std::to_string(j - i) + "×" : std::string()) + ws[i]->label;
        i = j;
    }
    return label;
}

}  // namespace

void Matmul::run(std::initializer_list<Product> products, int64_t m) {
    if (m <= 0) return;
    if (!ours(m)) {
        for (const Product& p : products) run(*p.w, p.x, m, p.ldx, p.y, p.ldy);  // empty ones return at once
        return;
    }
    GemvTask tasks[kMaxGemvGroup];
    int64_t n = 0;
    const Linear* ws[kMaxGemvGroup];
    for (const Product& p : products) {
        if (p.w->n == 0) continue;
        if (n == kMaxGemvGroup) throw Error(RWKVB_ERR_INTERNAL, "Matmul::run: more than kMaxGemvGroup products");
        const Linear& w = *p.w;
        const void* data = w.type == WType::F32 ? static_cast<const void*>(w.f32.data())
                           : w.type == WType::S8 ? static_cast<const void*>(w.q8.data())
                                                 : static_cast<const void*>(w.h16.data());
        tasks[n++] = {w.type, data, w.type == WType::S8 ? w.scale.data() : nullptr, w.n, w.k, p.x, m, p.ldx, p.y, p.ldy};
        ws[n - 1] = &w;
    }
    const std::string label = prof_ ? group_label(ws, n) : std::string();
    rwkvb::PhaseTimer timed(prof_, label.c_str());
    gemv_group(par_, tasks, n);
}

void Matmul::run(const Linear& w, const float* x, int64_t m, int64_t ldx, float* y, int64_t ldy) {
    if (m <= 0 || w.n == 0) return;
    if (ours(m)) return run({{&w, x, ldx, y, ldy}}, m);
    const std::string label = prof_ ? "matmul " + w.label : std::string();
    rwkvb::PhaseTimer timed(prof_, label.c_str());
    if (w.type == WType::F32) return onednn(w.f32.data(), w.n, w.k, x, m, ldx, y, ldy);
    // Low precision with many rows: convert a tile of weight rows to f32 (cheap next to the
    // 2·M flops per weight the GEMM does), then GEMM that tile into its columns of y.
    const int64_t tile_rows = std::min<int64_t>(w.n, std::max<int64_t>(64, (int64_t(1) << 20) / w.k));
    tile_.resize(size_t(tile_rows * w.k));
    for (int64_t n0 = 0; n0 < w.n; n0 += tile_rows) {
        const int64_t rows = std::min(tile_rows, w.n - n0);
        float* t = tile_.data();
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t src = (n0 + r) * w.k;
            if (w.type == WType::F16) convert_f16_to_f32(w.h16.data() + src, t + r * w.k, w.k);
            else if (w.type == WType::BF16) convert_bf16_to_f32(w.h16.data() + src, t + r * w.k, w.k);
            else convert_s8_to_f32(w.q8.data() + src, w.scale.data() + n0 + r, 1, w.k, t + r * w.k);
        }
        onednn(t, rows, w.k, x, m, ldx, y + n0, ldy);
    }
}

}  // namespace rwkvd
