// Benchmarks of the OpenCL backend: decode and prefill-512 through the plugin ABI on a preset's
// shapes with synthetic weights, and the matrix kernels alone, built with the sizes the plugin
// chooses for the device. Rates are real-time (PoCL runs its own threads) and come with bytes/s
// or FLOP/s counters for the roofline (DESIGN.md §5).
//   bench_opencl --benchmark_filter=0_1b --benchmark_repetitions=5 --benchmark_report_aggregates_only
// RWKVB_BENCH_OPTIONS adds plugin options to both (e.g. "tile=4x2,vec=8" or "profile=1");
// RWKVB_BENCH_PLUGIN=path/librwkvb_opencl.so times another build of the plugin (decode, prefill).
#include "cl_common.hpp"
#include "devices.hpp"
#include "plugin/plugin.hpp"
#include "options.hpp"
#include "presets.hpp"
#include "program.hpp"
#include "sizes.hpp"
#include "synth.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <thread>

namespace rwkvb::ocl {
const char* kernel_source();
}

namespace {

using namespace rwkvb;

std::string bench_options() {
    const char* e = std::getenv("RWKVB_BENCH_OPTIONS");
    return e ? e : "";
}

// A loaded model with synthetic weights (kept for the whole run: 0.1b loads once).
struct Loaded {
    DType dtype = DType::F32;  // of the weights on the device (the host copy is f32)
    ModelConfig config{};
    std::vector<std::vector<std::byte>> storage;
    std::vector<TensorView> views;
    std::unique_ptr<Session> session;
};

// nullptr when the device does not offer `dtype` weights (asked before any weights are made).
Loaded* model(const std::string& preset, DType dtype) {
    static std::map<std::pair<std::string, DType>, std::unique_ptr<Loaded>> cache;
    auto& slot = cache[{preset, dtype}];
    if (slot) return slot.get();
    setenv("POCL_CACHE_DIR", RWKVB_BENCH_CACHE_DIR "/pocl", 0);
    const Preset* p = find_preset(preset);
    if (!p) throw std::runtime_error("unknown preset " + preset);
    auto m = std::make_unique<Loaded>();
    const char* other = std::getenv("RWKVB_BENCH_PLUGIN");  // another build, for side-by-side runs
    auto plugin = Plugin::load(other ? other : std::string(RWKVB_PLUGIN_DIR) + "/librwkvb_opencl.so");
    m->session = std::make_unique<Session>(plugin, 0, "cache_dir=" RWKVB_BENCH_CACHE_DIR "," + bench_options());
    if (!(m->session->device().weight_dtypes & RWKVB_DTYPE_BIT(static_cast<int>(dtype)))) return nullptr;
    m->dtype = dtype;
    m->config = p->config;
    for (const auto& spec : expected_tensors(m->config)) {
        int64_t n = 1;
        for (auto d : spec.shape) n *= d;
        m->storage.emplace_back(static_cast<size_t>(n) * 4);
        fill_synthetic_tensor(m->config, 42, spec, DType::F32, m->storage.back());
        TensorView v;
        v.name = spec.name;
        v.dtype = DType::F32;
        v.shape = spec.shape;
        v.data = m->storage.back().data();
        v.nbytes = m->storage.back().size();
        m->views.push_back(v);
    }
    m->session->load(m->config, m->views, dtype);  // the host copy stays: the ABI lets load() keep pointers
    slot = std::move(m);
    return slot.get();
}

void BM_Decode(benchmark::State& st, const std::string& preset, DType dtype) {
    Loaded* loaded = model(preset, dtype);
    if (!loaded) return st.SkipWithError("the device does not offer these weights' dtype");
    Loaded& m = *loaded;
    rwkvb_state* s = m.session->new_state(1);
    std::vector<float> logits(m.config.vocab_size);
    int32_t tok = 1;
    for (int i = 0; i < 3; ++i) m.session->forward(s, &tok, 1, 1, logits.data(), RWKVB_LOGITS_LAST);  // warm-up
    for (auto _ : st) {
        m.session->forward(s, &tok, 1, 1, logits.data(), RWKVB_LOGITS_LAST);
        tok = (tok * 31 + 7) % m.config.vocab_size;
    }
    const ModelCost c = model_cost(m.config);
    st.counters["weight_bytes/s"] = benchmark::Counter(c.weight_bytes_per_token(m.dtype) * st.iterations(),
                                                       benchmark::Counter::kIsRate);
    st.counters["tokens/s"] = benchmark::Counter(st.iterations(), benchmark::Counter::kIsRate);
    m.session->free_state(s);
}

void BM_Prefill(benchmark::State& st, const std::string& preset, int T, DType dtype) {
    Loaded* loaded = model(preset, dtype);
    if (!loaded) return st.SkipWithError("the device does not offer these weights' dtype");
    Loaded& m = *loaded;
    rwkvb_state* s = m.session->new_state(1);
    std::vector<float> logits(m.config.vocab_size);
    std::vector<int32_t> toks(T);
    for (int i = 0; i < T; ++i) toks[i] = (i * 131 + 5) % m.config.vocab_size;
    m.session->forward(s, toks.data(), T, 1, logits.data(), RWKVB_LOGITS_LAST);  // warm-up
    for (auto _ : st) {
        st.PauseTiming();
        m.session->reset_state(s);
        m.session->synchronize();
        st.ResumeTiming();
        m.session->forward(s, toks.data(), T, 1, logits.data(), RWKVB_LOGITS_LAST);
    }
    const ModelCost c = model_cost(m.config);
    const double head = double(m.config.vocab_size) * m.config.n_embd;
    const double flops = 2.0 * T * (double(c.matmul_weights) - head) + 2.0 * head;  // RWKV.md §8
    st.counters["FLOP/s"] = benchmark::Counter(flops * st.iterations(), benchmark::Counter::kIsRate);
    st.counters["tokens/s"] = benchmark::Counter(double(T) * st.iterations(), benchmark::Counter::kIsRate);
    m.session->free_state(s);
}

// The gemv / gemm kernels alone, built and launched the way the plugin does for this device.
struct KernelRig {
    cl::Context ctx;
    cl::CommandQueue q;
    cl::Program prog;
    ocl::Sizes sizes;
    size_t max_wg = 0;
    KernelRig() {
        setenv("POCL_CACHE_DIR", RWKVB_BENCH_CACHE_DIR "/pocl", 0);
        const auto& list = ocl::device_list();
        if (list.devices.empty()) throw std::runtime_error(list.error);
        const cl::Device dev = list.devices[0].device;
        const ocl::DeviceFacts facts = ocl::device_facts(list.devices[0]);
        sizes = ocl::choose_sizes(facts, ocl::parse_options(bench_options().c_str()));
        max_wg = facts.max_wg;
        ctx = cl::Context(dev);
        q = cl::CommandQueue(ctx, dev);
        std::string log;
        prog = ocl::build_program(ctx, dev, ocl::kernel_source(), ocl::build_options(sizes, 64, false),
                                  RWKVB_BENCH_CACHE_DIR, &log)
                   .program;
    }
    // A kernel of its own small program (the bandwidth and launch probes), on this rig's context.
    cl::Kernel standalone(const std::string& source, const char* name) {
        cl::Program p(ctx, source);
        p.build("-cl-std=CL1.2");
        return cl::Kernel(p, name);
    }
    static KernelRig& get() {
        static KernelRig r;
        return r;
    }
};

cl::Buffer random_buffer(KernelRig& r, size_t n) {
    std::vector<float> v(n);
    std::mt19937 g(7);
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    for (auto& x : v) x = d(g);
    return cl::Buffer(r.ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float), v.data());
}

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

void BM_MatKernel(benchmark::State& st, bool gemm) {
    KernelRig& r = KernelRig::get();
    const ocl::Sizes& z = r.sizes;
    const int M = static_cast<int>(st.range(0)), N = static_cast<int>(st.range(1)), K = static_cast<int>(st.range(2));
    cl::Buffer x = random_buffer(r, static_cast<size_t>(M) * K), w = random_buffer(r, static_cast<size_t>(N) * K),
               y = random_buffer(r, static_cast<size_t>(M) * N);
    const cl_int zero = 0, none = 0;
    cl::Kernel k(r.prog, gemm ? "gemm" : "gemv_jobs");
    cl::NDRange global, local;
    if (gemm) {  // as Engine::matmuls for many rows
        int i = 0;
        for (const auto& a : {x}) k.setArg(i++, a);
        k.setArg(i++, zero); k.setArg(i++, K); k.setArg(i++, w); k.setArg(i++, y); k.setArg(i++, zero);
        k.setArg(i++, N); k.setArg(i++, M); k.setArg(i++, N); k.setArg(i++, K); k.setArg(i++, none);
        k.setArg(i++, none);
        const size_t lx = std::min<size_t>(16, r.max_wg), ly = std::max<size_t>(1, std::min<size_t>(4, r.max_wg / lx));
        global = cl::NDRange(round_up((N + z.tn - 1) / z.tn, lx), round_up((M + z.tm - 1) / z.tm, ly));
        local = cl::NDRange(lx, ly);
    } else {  // one job in every slot of gemv_jobs, as Engine::matmuls for few rows
        const cl_int units = z.gemv_group ? N : (N + 3) / 4;
        const cl_int8 d = {{N, K, 0, K, 0, N, 0, units}};
        k.setArg(0, M);
        k.setArg(1, units);
        for (cl_uint s = 0; s < 8; ++s) {
            k.setArg(2 + 4 * s, x); k.setArg(3 + 4 * s, w); k.setArg(4 + 4 * s, y); k.setArg(5 + 4 * s, d);
        }
        const size_t l = z.gemv_group ? z.wg : std::min<size_t>(16, r.max_wg);
        global = cl::NDRange(z.gemv_group ? static_cast<size_t>(units) * l : round_up(units, l));
        local = cl::NDRange(l);
    }
    r.q.enqueueNDRangeKernel(k, cl::NullRange, global, local);
    r.q.finish();
    for (auto _ : st) {
        r.q.enqueueNDRangeKernel(k, cl::NullRange, global, local);
        r.q.finish();
    }
    st.counters["weight_bytes/s"] =
        benchmark::Counter(double(N) * K * 4 * st.iterations(), benchmark::Counter::kIsRate);
    st.counters["FLOP/s"] = benchmark::Counter(2.0 * M * N * K * st.iterations(), benchmark::Counter::kIsRate);
}

// The host's read bandwidth at the same moment (2 threads summing 1 GiB, more than the 480 MiB
// L3 this VM reports): the roofline the decode and gemv rates are a fraction of. This machine is
// shared, so it moves between runs. 32 independent sums keep the adds off the critical path.
void BM_HostReadBandwidth(benchmark::State& st) {
    static std::vector<float> a(size_t(256) << 20, 1.0f);
    float sink = 0;
    for (auto _ : st) {
        float part[2] = {0, 0};
        std::thread th[2];
        for (int t = 0; t < 2; ++t)
            th[t] = std::thread([&, t] {
                const size_t n = a.size() / 2;
                float acc[32] = {};
                for (size_t i = t * n; i < (t + 1) * n; i += 32)
                    for (int j = 0; j < 32; ++j) acc[j] += a[i + j];
                float s = 0;
                for (float v : acc) s += v;
                part[t] = s;
            });
        for (auto& x : th) x.join();
        sink += part[0] + part[1];
    }
    benchmark::DoNotOptimize(sink);
    st.counters["bytes/s"] = benchmark::Counter(double(a.size()) * 4 * st.iterations(), benchmark::Counter::kIsRate);
}

// The device's read bandwidth: a kernel summing a buffer far larger than any cache (1/8 of the
// device's global memory, at most 4 GiB), each item striding over float4s so a group's loads are
// contiguous. On a GPU this is the roofline of decode. On PoCL it is the host's memory again,
// read badly (each work-item's stride is the whole launch): BM_HostReadBandwidth is the roofline there.
const char* k_read_kernel = R"CL(
__kernel void read_sum(__global const float4* p, ulong n, __global float* out) {
    float4 a = 0.0f;
    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) a += p[i];
    out[get_global_id(0)] = (a.x + a.y) + (a.z + a.w);
}
)CL";

void BM_DeviceReadBandwidth(benchmark::State& st) {
    KernelRig& r = KernelRig::get();
    const cl::Device dev = r.q.getInfo<CL_QUEUE_DEVICE>();
    const size_t bytes = std::min<size_t>(size_t(4) << 30, std::min(dev.getInfo<CL_DEVICE_GLOBAL_MEM_SIZE>() / 8,
                                                                 dev.getInfo<CL_DEVICE_MAX_MEM_ALLOC_SIZE>())) / 64 * 64;
    cl::Kernel k = r.standalone(k_read_kernel, "read_sum");
    const size_t units = dev.getInfo<CL_DEVICE_MAX_COMPUTE_UNITS>();
    const size_t global = units * 2048 > bytes / 16 ? bytes / 16 / 256 * 256 : units * 2048;
    cl::Buffer buf(r.ctx, CL_MEM_READ_WRITE, bytes), out(r.ctx, CL_MEM_WRITE_ONLY, global * sizeof(float));
    r.q.enqueueFillBuffer(buf, 1.0f, 0, bytes);
    k.setArg(0, buf);
    k.setArg(1, static_cast<cl_ulong>(bytes / 16));
    k.setArg(2, out);
    r.q.enqueueNDRangeKernel(k, cl::NullRange, cl::NDRange(global), cl::NullRange);
    r.q.finish();
    for (auto _ : st) {
        r.q.enqueueNDRangeKernel(k, cl::NullRange, cl::NDRange(global), cl::NullRange);
        r.q.finish();
    }
    st.counters["bytes/s"] = benchmark::Counter(double(bytes) * st.iterations(), benchmark::Counter::kIsRate);
}

// What one launch costs: 100 empty kernels in a row, then one wait. A decode step is ~100
// launches, so on a fast GPU this, not the bytes, can set the floor of a small model's latency.
void BM_LaunchOverhead(benchmark::State& st) {
    KernelRig& r = KernelRig::get();
    cl::Kernel k = r.standalone("__kernel void nothing(__global float* p) { if (p[0] == 42.0f) p[1] = 0.0f; }", "nothing");
    cl::Buffer b(r.ctx, CL_MEM_READ_WRITE, 64);
    r.q.enqueueFillBuffer(b, 0.0f, 0, 64);
    k.setArg(0, b);
    r.q.finish();
    for (auto _ : st) {
        for (int i = 0; i < 100; ++i) r.q.enqueueNDRangeKernel(k, cl::NullRange, cl::NDRange(64), cl::NDRange(64));
        r.q.finish();
    }
    st.counters["launches/s"] = benchmark::Counter(100.0 * st.iterations(), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_HostReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeviceReadBandwidth)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LaunchOverhead)->UseRealTime()->Unit(benchmark::kMicrosecond);
// rwkv7-0.1b: L12 D768 F3072 V65536 (Dw64 Da64 Dv32 Dg128). "small" cases keep the ctest smoke fast.
BENCHMARK_CAPTURE(BM_Decode, rwkv7_0_1b, std::string("rwkv7-0.1b"), DType::F32)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, rwkv7_0_1b_f16, std::string("rwkv7-0.1b"), DType::F16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Prefill, rwkv7_0_1b_512, std::string("rwkv7-0.1b"), 512, DType::F32)
    ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(BM_MatKernel, gemv_head, false)->Args({1, 65536, 768})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatKernel, gemv_ffn, false)->Args({1, 3072, 768})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_MatKernel, gemm_ffn_512, true)->Args({512, 3072, 768})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, small_rwkv7, std::string("rwkv7-small"), DType::F32)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Prefill, small_rwkv7_64, std::string("rwkv7-small"), 64, DType::F32)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, small_rwkv7_f16, std::string("rwkv7-small"), DType::F16)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decode, small_rwkv4, std::string("rwkv4-small"), DType::F32)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_MatKernel, small_gemm, true)->Args({64, 256, 256})->UseRealTime()->Unit(benchmark::kMicrosecond);
// GPU sizes (filter `gpu_`; several GB of weights, too much for PoCL on 2 cores): the issue's GPU
// target is rwkv7-1.5b decode with f16 weights. L24 D2048 F8192 V65536.
BENCHMARK_CAPTURE(BM_Decode, gpu_rwkv7_1_5b_f16, std::string("rwkv7-1.5b"), DType::F16)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Decode, gpu_rwkv7_1_5b_f32, std::string("rwkv7-1.5b"), DType::F32)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Prefill, gpu_rwkv7_1_5b_f16_512, std::string("rwkv7-1.5b"), 512, DType::F16)
    ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(5);
BENCHMARK_CAPTURE(BM_MatKernel, gpu_gemv_ffn_1_5b, false)->Args({1, 8192, 2048})->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_MatKernel, gpu_gemv_head_1_5b, false)->Args({1, 65536, 2048})->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
