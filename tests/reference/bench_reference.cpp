// Golden decode speed: seconds per token on a synthetic preset (default rwkv7-0.1b, float32
// weights, 2 threads), with the achieved GB/s of float32 matrix weights read per token
// (W_mm × 4 bytes, RWKV.md §8). Decode is memory-bound, so GB/s against the machine's
// measured bandwidth (TOOLCHAIN.md §6) is the number to watch.
//
//   bench_reference [--preset=NAME] [--threads=N] [google-benchmark flags]
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "golden_util.hpp"
#include "presets.hpp"
#include "synth.hpp"
#include "tokens.hpp"

namespace {

std::string g_preset = "rwkv7-0.1b";
int g_threads = 2;

struct Setup {
    std::filesystem::path model;
    std::unique_ptr<rwkvb::test::Golden> golden;
    uint64_t matmul_weights = 0;
    ~Setup() {
        golden.reset();
        if (!model.empty()) std::filesystem::remove(model);
    }
};

Setup& setup() {
    static std::unique_ptr<Setup> s;
    if (!s) {
        s = std::make_unique<Setup>();
        const rwkvb::Preset* p = rwkvb::find_preset(g_preset);
        if (!p) throw std::runtime_error("unknown preset " + g_preset);
        s->model = std::filesystem::temp_directory_path() /
                   ("rwkvb_bench_ref_" + g_preset + "_" + std::to_string(getpid()) + ".safetensors");
        rwkvb::write_synthetic_model(p->config, 1, rwkvb::DType::F32, s->model, p->name);
        s->golden = std::make_unique<rwkvb::test::Golden>(s->model, g_threads);
        s->matmul_weights = rwkvb::model_cost(s->golden->cfg).matmul_weights;
    }
    return *s;
}

void BM_GoldenDecode(benchmark::State& state) {
    Setup& s = setup();
    auto& session = *s.golden->session;
    const auto tokens = rwkvb::synthetic_tokens(5, 4096, s.golden->V());
    std::vector<double> logits(s.golden->V());
    rwkvb_state* st = session.new_state(1);
    size_t t = 0;
    for (auto _ : state) {
        session.forward(st, &tokens[t++ % tokens.size()], 1, 1, logits.data(), RWKVB_LOGITS_LAST);
        benchmark::DoNotOptimize(logits.data());
    }
    session.free_state(st);
    const double bytes = static_cast<double>(s.matmul_weights) * 4.0;
    state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
    state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.SetLabel(g_preset + " f32, " + std::to_string(g_threads) + " threads");
}
BENCHMARK(BM_GoldenDecode)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> rest;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--preset=", 9) == 0)
            g_preset = argv[i] + 9;
        else if (std::strncmp(argv[i], "--threads=", 10) == 0)
            g_threads = std::atoi(argv[i] + 10);
        else
            rest.push_back(argv[i]);
    }
    int n = static_cast<int>(rest.size());
    benchmark::Initialize(&n, rest.data());
    if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 2;
    try {
        setup();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_reference: %s\n", e.what());
        return 2;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::filesystem::remove(setup().model);
    return 0;
}
