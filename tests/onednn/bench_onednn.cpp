// Google Benchmark micro-benchmarks of the oneDNN backend on the real preset shapes
// (rwkv7-0.1b: L12 D768 F3072 V65536 Dw64 Da64 Dv32 Dg128; rwkv4-169m: L12 D768 F3072 V50277),
// random weights. Per-layer kernels (every matmul shape per dtype and path, WKV step per
// version, norms) and whole decode / prefill steps. See backends/onednn/README.md.
#include "gemv_kernels.hpp"
#include "measure/limits.hpp"
#include "matmul.hpp"
#include "model.hpp"
#include "norms.hpp"
#include "wkv.hpp"

#include <benchmark/benchmark.h>
#include <dnnl.hpp>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace rwkvd;

namespace {

std::vector<float> randn(size_t n, float scale, uint64_t seed) {
    std::vector<float> v(n);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (auto& x : v) {  // xorshift → uniform(-1, 1) × scale: fast, deterministic
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x = scale * (float((s >> 40) & 0xFFFFFF) / float(1 << 23) - 1.f);
    }
    return v;
}

const char* wname(WType t) {
    switch (t) {
    case WType::F32: return "f32";
    case WType::F16: return "f16";
    case WType::BF16: return "bf16";
    default: return "s8";
    }
}

// ---- matmul: y[M×N] = x[M×K] Wᵀ; args: M, N, K, dtype, path (1 own kernels, 2 oneDNN in
// column chunks as the backend runs it, 3 oneDNN on the whole matrix) ----
void BM_Linear(benchmark::State& st) {
    const int64_t M = st.range(0), N = st.range(1), K = st.range(2);
    const auto type = WType(st.range(3));
    const int path = int(st.range(4));
    auto w = randn(size_t(N * K), 1.f / std::sqrt(float(K)), 1);
    Linear L = make_linear(w.data(), N, K, false, type);
    auto x = randn(size_t(M * K), 1.f, 2);
    std::vector<float> y(size_t(M * N));
    Parallel par;
    par.use_openmp(M > Matmul::kGemvMaxRows);  // as Runner::forward chooses
    Matmul mm(par);
    mm.set_path(path == 3 ? 2 : path);
    if (path == 3) mm.set_column_chunk(0);
    mm.run(L, x.data(), M, K, y.data(), N);  // primitive creation outside the timing
    for (auto _ : st) {
        mm.run(L, x.data(), M, K, y.data(), N);
        benchmark::DoNotOptimize(y.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(L.bytes()));
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * double(M * N * K), benchmark::Counter::kIsIterationInvariantRate);
    st.SetLabel(std::string(wname(type)) + (path == 1 ? " own" : path == 2 ? " onednn" : " onednn unchunked"));
}

void linear_args(benchmark::internal::Benchmark* b) {
    const int64_t shapes[][2] = {{768, 768}, {3072, 768}, {768, 3072}, {50277, 768}, {65536, 768}};
    for (auto [n, k] : shapes)
        for (int64_t m : {1, 8, 512})
            for (int t = 0; t < 4; ++t)
                for (int path : {1, 2, 3}) {
                    if (m == 512 && path == 1) continue;            // our kernels are for few rows
                    if (m != 512 && path != 1 && t != 0) continue;  // oneDNN few-row: f32 only
                    if (path == 3 && (m != 512 || t != 0)) continue;
                    b->Args({m, n, k, t, path});
                }
    b->ArgNames({"M", "N", "K", "dtype", "path"});
}
BENCHMARK(BM_Linear)->Apply(linear_args)->UseRealTime();

// ---- WKV step (one layer, one token, D = 768, heads of 64) ----
void BM_Wkv(benchmark::State& st) {
    const int ver = int(st.range(0));
    const int64_t T = st.range(1), D = 768, N = 64, H = D / N;
    auto r = randn(size_t(T * D), 0.5f, 3), k = randn(size_t(T * D), 0.5f, 4), v = randn(size_t(T * D), 0.5f, 5);
    auto w = randn(size_t(T * D), 0.1f, 6);
    for (auto& x : w) x = 0.9f + x;  // decays in (0.8, 1)
    auto u = randn(size_t(D), 0.5f, 7), a = randn(size_t(T * D), 0.05f, 8), b = randn(size_t(T * D), 0.05f, 9);
    std::vector<float> y(size_t(T * D)), S(size_t(H * N * N), 0.f), s4(size_t(3 * D), 0.f);
    for (int64_t c = 0; c < D; ++c) s4[size_t(2 * D + c)] = -1e30f;
    for (auto _ : st) {
        if (ver == 4) {
            wkv4(T, 0, D, k.data(), v.data(), D, w.data(), u.data(), s4.data(), s4.data() + D, s4.data() + 2 * D, y.data());
        } else {
#pragma omp parallel for schedule(static)
            for (int64_t h = 0; h < H; ++h) {
                const int64_t o = h * N;
                if (ver == 7)
                    wkv7_head(T, N, r.data() + o, w.data() + o, k.data() + o, v.data() + o, a.data() + o,
                              b.data() + o, D, S.data() + h * N * N, y.data() + o);
                else
                    wkv5_head(T, N, r.data() + o, k.data() + o, v.data() + o, D, w.data() + o, ver == 6 ? D : 0,
                              u.data() + o, S.data() + h * N * N, y.data() + o);
            }
        }
        benchmark::DoNotOptimize(y.data());
    }
    st.counters["tokens/s"] = benchmark::Counter(double(T), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Wkv)->ArgsProduct({{4, 5, 6, 7}, {1, 512}})->ArgNames({"version", "T"})->UseRealTime();

// ---- norms: LayerNorm over D = 768 and GroupNorm 12×64, rows = 1 or 512 ----
void BM_LayerNorm(benchmark::State& st) {
    const int64_t R = st.range(0), D = 768;
    auto x = randn(size_t(R * D), 1.f, 10), w = randn(size_t(D), 1.f, 11), b = randn(size_t(D), 1.f, 12);
    std::vector<float> o(size_t(R * D));
    for (auto _ : st) {
        layer_norm(x.data(), R, D, D, w.data(), b.data(), o.data(), D);
        benchmark::DoNotOptimize(o.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * R * D * 8);
}
BENCHMARK(BM_LayerNorm)->Arg(1)->Arg(512)->ArgName("rows")->UseRealTime();

void BM_GroupNorm(benchmark::State& st) {
    const int64_t R = st.range(0), D = 768;
    auto x = randn(size_t(R * D), 1.f, 13), w = randn(size_t(D), 1.f, 14), b = randn(size_t(D), 1.f, 15);
    for (auto _ : st) {
        group_norm(x.data(), R, 12, 64, w.data(), b.data(), 64e-5f);
        benchmark::DoNotOptimize(x.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * R * D * 8);
}
BENCHMARK(BM_GroupNorm)->Arg(1)->Arg(512)->ArgName("rows")->UseRealTime();

// ---- the host's limits at the same moment (the roofline of the rates above and below) ----
// A streaming read by every thread over the buffer `rwkvbench limits` reads
// (limits_read_buffer_bytes), and a 2048³ f32 oneDNN GEMM. This host is shared (other VMs too),
// so its limits move between runs; interleave these with the model benchmarks and compare medians
// of the same run.
// args: buffer MB (0 = the harness's size, DRAM), huge (0 = 4 KiB pages as allocated; 1 = 2 MiB
// pages, as the backend holds its weights, common.hpp), prefetch (1 = software prefetch 8 KiB
// ahead, as the decode kernels do). {0, 1, 0} is `rwkvbench limits`' method; {0, 0, 0} was its
// method before: on this KVM guest 4 KiB page walks and hardware prefetch that stops at 4 KiB
// boundaries held it ~30% lower.
// Buffers the size of rwkv7-0.1b's weights (int8 156 MB, f16 292 MB, f32 562 MB) show any help
// from the last-level cache (480 MiB reported, shared with other guests).
void BM_LimitRead(benchmark::State& st) {
    const int threads = omp_get_max_threads();
    static std::map<int64_t, std::vector<float>> plain;
    static std::map<int64_t, Buffer<float>> huge;
    uint64_t bytes = rwkvb::limits_read_buffer_bytes();
    if (st.range(0) > 0) bytes = uint64_t(st.range(0)) * 1000000;
    const size_t n_all = bytes / 4 / 256 * 256;
    float* data = nullptr;
    if (st.range(1)) {
        Buffer<float>& b = huge[st.range(0)];
        if (b.size() == 0) {
            b.resize(n_all);
            std::fill(b.data(), b.data() + n_all, 1e-3f);
        }
        data = b.data();
    } else {
        std::vector<float>& b = plain[st.range(0)];
        if (b.empty()) b.assign(n_all, 1e-3f);
        data = b.data();
    }
    const size_t per = n_all / size_t(threads) / 32 * 32;
    const bool ahead = st.range(2) != 0;
    std::vector<float> sink(static_cast<size_t>(threads));
    for (auto _ : st) {
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&, t] {
                const float* p = data + size_t(t) * per;
                const size_t n = t == threads - 1 ? n_all - size_t(t) * per : per;
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (size_t i = 0; i + 32 <= n; i += 32) {
                    if (ahead) {  // 8 KiB ahead, both cache lines of this step (a hint: never faults)
                        _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048), _MM_HINT_T0);
                        _mm_prefetch(reinterpret_cast<const char*>(p + i + 2048 + 16), _MM_HINT_T0);
                    }
                    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
                    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
                    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
                    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
                }
                alignas(32) float o[8];
                _mm256_store_ps(o, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
                for (float v : o) sink[size_t(t)] += v;
            });
        for (auto& th : pool) th.join();
    }
    benchmark::DoNotOptimize(sink.data());
    st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(n_all * 4));
}
BENCHMARK(BM_LimitRead)
    ->Args({0, 0, 0})->Args({0, 1, 0})->Args({0, 1, 1})->Args({156, 1, 1})->Args({292, 1, 1})->Args({562, 1, 1})
    ->ArgNames({"MB", "huge", "prefetch"})->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_LimitGemm(benchmark::State& st) {
    using namespace dnnl;
    const memory::dim n = 2048;
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const memory::desc md({n, n}, memory::data_type::f32, memory::format_tag::ab);
    matmul prim(matmul::primitive_desc(matmul::desc(md, md, md), eng));
    std::vector<float> a = randn(size_t(n * n), 1.f, 20), b = randn(size_t(n * n), 1.f, 21), c(size_t(n * n));
    memory ma(md, eng, a.data()), mb(md, eng, b.data()), mc(md, eng, c.data());
    prim.execute(strm, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    strm.wait();
    for (auto _ : st) {
        prim.execute(strm, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
        strm.wait();
    }
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * double(n * n * n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_LimitGemm)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- whole model steps on the presets (random weights in the official layout) ----
struct Synth {
    rwkvb_model_config cfg{};
    std::vector<std::string> names;
    std::vector<std::vector<float>> data;
    std::vector<rwkvb_tensor> tensors;
    uint64_t matrix_elems = 0;  // W_mm of RWKV.md §8 (head included, embedding excluded)

    void add(const std::string& n, std::vector<int64_t> shape, float scale, float offset = 0.f, bool matrix = false) {
        size_t count = 1;
        for (auto d : shape) count *= size_t(d);
        auto v = randn(count, scale, names.size() + 100);
        for (auto& x : v) x += offset;
        if (matrix && n != "emb.weight") matrix_elems += count;
        names.push_back(n);
        data.push_back(std::move(v));
        rwkvb_tensor t{};
        t.dtype = RWKVB_F32;
        t.ndim = int32_t(shape.size());
        for (size_t i = 0; i < shape.size(); ++i) t.shape[i] = shape[i];
        t.nbytes = count * 4;
        tensors.push_back(t);
    }
    void finish() {
        for (size_t i = 0; i < tensors.size(); ++i) tensors[i].name = names[i].c_str(), tensors[i].data = data[i].data();
    }
};

// version 4 → rwkv4-169m, 7 → rwkv7-0.1b
std::unique_ptr<Synth> make_preset(int version) {
    auto s = std::make_unique<Synth>();
    auto& c = s->cfg;
    c.version = version;
    c.n_layer = 12, c.n_embd = 768, c.dim_att = 768, c.dim_ffn = 3072;
    c.vocab_size = version == 4 ? 50277 : 65536;
    if (version == 7) c.n_head = 12, c.head_size = 64, c.lora_decay = 64, c.lora_iclr = 64, c.lora_value = 32, c.lora_gate = 128;
    const int64_t D = 768, F = 3072, V = c.vocab_size;
    const float sm = 1.f / std::sqrt(float(D)), sf = 1.f / std::sqrt(float(F));
    s->add("emb.weight", {V, D}, 1.f, 0.f, true);
    for (int l = 0; l < 12; ++l) {
        const std::string p = "blocks." + std::to_string(l) + ".", a = p + "att.", f = p + "ffn.";
        if (l == 0) s->add(p + "ln0.weight", {D}, 0.1f, 1.f), s->add(p + "ln0.bias", {D}, 0.1f);
        s->add(p + "ln1.weight", {D}, 0.1f, 1.f), s->add(p + "ln1.bias", {D}, 0.1f);
        s->add(p + "ln2.weight", {D}, 0.1f, 1.f), s->add(p + "ln2.bias", {D}, 0.1f);
        if (version == 4) {
            for (const char* m : {"time_mix_k", "time_mix_v", "time_mix_r"}) s->add(a + m, {1, 1, D}, 0.3f, 0.5f);
            s->add(a + "time_decay", {D}, 1.f, -1.f), s->add(a + "time_first", {D}, 0.5f);
            for (const char* m : {"key", "value", "receptance", "output"}) s->add(a + m + ".weight", {D, D}, sm, 0, true);
            s->add(f + "time_mix_k", {1, 1, D}, 0.3f, 0.5f), s->add(f + "time_mix_r", {1, 1, D}, 0.3f, 0.5f);
            s->add(f + "key.weight", {F, D}, sm, 0, true), s->add(f + "receptance.weight", {D, D}, sm, 0, true);
            s->add(f + "value.weight", {D, F}, sf, 0, true);
        } else {
            for (const char* m : {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"}) s->add(a + m, {1, 1, D}, 0.3f, 0.5f);
            s->add(a + "w0", {1, 1, D}, 0.5f, -1.f);
            s->add(a + "w1", {D, 64}, sm, 0, true), s->add(a + "w2", {64, D}, 0.1f, 0, true);
            s->add(a + "a0", {1, 1, D}, 0.5f);
            s->add(a + "a1", {D, 64}, sm, 0, true), s->add(a + "a2", {64, D}, 0.1f, 0, true);
            s->add(a + "v0", {1, 1, D}, 0.5f, 1.f);
            s->add(a + "v1", {D, 32}, sm, 0, l > 0), s->add(a + "v2", {32, D}, 0.1f, 0, l > 0);
            s->add(a + "g1", {D, 128}, sm, 0, true), s->add(a + "g2", {128, D}, 0.1f, 0, true);
            s->add(a + "k_k", {1, 1, D}, 0.2f, 0.8f), s->add(a + "k_a", {1, 1, D}, 0.2f, 1.f);
            s->add(a + "r_k", {12, 64}, 0.2f);
            for (const char* m : {"receptance", "key", "value", "output"}) s->add(a + m + ".weight", {D, D}, sm, 0, true);
            s->add(a + "ln_x.weight", {D}, 0.1f, 1.f), s->add(a + "ln_x.bias", {D}, 0.1f);
            s->add(f + "x_k", {1, 1, D}, 0.3f, 0.5f);
            s->add(f + "key.weight", {F, D}, sm, 0, true), s->add(f + "value.weight", {D, F}, sf, 0, true);
        }
    }
    s->add("ln_out.weight", {D}, 0.1f, 1.f), s->add("ln_out.bias", {D}, 0.1f);
    s->add("head.weight", {V, D}, sm, 0, true);
    s->finish();
    return s;
}

// RWKVB_BENCH_PROFILE=1: the plugin's profile=1 table (phase_profile.hpp) over every BM_Model
// step of the run, on stderr at exit.
rwkvb::PhaseProfile* bench_profile() {
    static const char* on = std::getenv("RWKVB_BENCH_PROFILE");
    static const auto profile =
        on && std::string(on) == "1" ? std::make_unique<rwkvb::PhaseProfile>("onednn") : nullptr;
    return profile.get();
}

// Cached per (version, dtype), all at once (≈ 3.5 GB for both presets × 4 dtypes), so that
// --benchmark_enable_random_interleaving can alternate dtypes without reloading. The random
// source weights are dropped after conversion.
struct Loaded {
    rwkvb_model_config cfg{};
    uint64_t matrix_elems = 0;
    std::unique_ptr<Model> model;
    std::unique_ptr<Runner> runner;
};
Loaded& loaded(int version, WType t) {
    static std::map<std::pair<int, int>, Loaded> cache;
    auto key = std::make_pair(version, int(t));
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    Loaded l;
    auto synth = make_preset(version);
    l.cfg = synth->cfg;
    l.matrix_elems = synth->matrix_elems;
    l.model = std::make_unique<Model>(load_model(synth->cfg, synth->tensors.data(), synth->tensors.size(), t));
    l.runner = std::make_unique<Runner>(*l.model);
    l.runner->set_profile(bench_profile());
    return cache.emplace(key, std::move(l)).first->second;
}

// args: version, dtype, batch, T (T = 1: decode, logits of the last token; T > 1: prefill)
void BM_Model(benchmark::State& st) {
    const int version = int(st.range(0));
    const auto type = WType(st.range(1));
    const int32_t B = int32_t(st.range(2));
    const int64_t T = st.range(3);
    Loaded& L = loaded(version, type);
    State s;
    state_init(*L.model, s, B);
    std::vector<int32_t> tok(size_t(B * T));
    for (size_t i = 0; i < tok.size(); ++i) tok[i] = int32_t((i * 7919) % 50000);
    std::vector<float> logits(size_t(B) * size_t(L.model->cfg.vocab_size));
    L.runner->forward(s, tok.data(), T, B, logits.data(), RWKVB_LOGITS_LAST);  // warm-up, primitives
    for (auto _ : st) {
        L.runner->forward(s, tok.data(), T, B, logits.data(), RWKVB_LOGITS_LAST);
        benchmark::DoNotOptimize(logits.data());
    }
    const double wmm = double(L.matrix_elems), vd = double(L.model->cfg.vocab_size) * 768.0;
    st.counters["tokens/s"] = benchmark::Counter(double(B * T), benchmark::Counter::kIsIterationInvariantRate);
    // Weight bytes streamed per step (every matrix once; the head once per step).
    st.counters["weight_B/s"] = benchmark::Counter(wmm * double(wtype_bytes(type)), benchmark::Counter::kIsIterationInvariantRate,
                                                   benchmark::Counter::OneK::kIs1000);
    // RWKV.md §8: 2·T·(W_mm − V·D) + 2·V·D per stream (head for the last token only).
    st.counters["FLOP/s"] = benchmark::Counter(double(B) * (2.0 * double(T) * (wmm - vd) + 2.0 * vd),
                                               benchmark::Counter::kIsIterationInvariantRate);
    st.SetLabel(std::string(version == 4 ? "rwkv4-169m " : "rwkv7-0.1b ") + wname(type) +
                (T == 1 ? " decode" : " prefill"));
}
void model_args(benchmark::internal::Benchmark* b) {
    for (int v : {7, 4}) {
        for (int t = 0; t < 4; ++t)
            for (int batch : {1, 8}) b->Args({v, t, batch, 1});
        b->Args({v, 0, 1, 512});
        b->Args({v, 1, 1, 512});
    }
    b->ArgNames({"version", "dtype", "batch", "T"});
}
BENCHMARK(BM_Model)->Apply(model_args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
