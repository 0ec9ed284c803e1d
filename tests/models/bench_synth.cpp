// Speed of synthetic weight generation (DESIGN.md §4 asks for ≥ 1 GB/s).
//   bench_synth --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// BM_SynthFile: the whole file through the safetensors writer (includes page faults of the
// mapped output and the final fsync). BM_SynthFill: the filler alone into memory.
#include "dtype.hpp"
#include "presets.hpp"
#include "synth.hpp"

#include <benchmark/benchmark.h>

#include "safetensors.hpp"

#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using namespace rwkvb;
namespace fs = std::filesystem;

void BM_SynthFile(benchmark::State& state, std::string preset, DType dtype) {
    const ModelConfig& c = find_preset(preset)->config;
    const fs::path out = fs::temp_directory_path() / ("rwkvb_bench_synth_" + std::to_string(::getpid()) + ".safetensors");
    uint64_t seed = 0;
    for (auto _ : state) write_synthetic_model(c, ++seed, dtype, out, preset, unsigned(state.range(0)));
    fs::remove(out);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(weight_bytes(c, dtype)));
    state.counters["GB"] = double(weight_bytes(c, dtype)) / 1e9;
}

// Baseline: the same file with zero-filled tensors, i.e. the writer's own cost (mapping, page
// faults, fsync). BM_SynthFile minus this is what generating the values costs.
void BM_WriterZeros(benchmark::State& state, std::string preset) {
    const ModelConfig& c = find_preset(preset)->config;
    const fs::path out = fs::temp_directory_path() / ("rwkvb_bench_zeros_" + std::to_string(::getpid()) + ".safetensors");
    for (auto _ : state) {
        SafetensorsWriter w;
        for (const TensorSpec& s : expected_tensors(c))
            w.add(s.name, DType::F32, s.shape, [](std::span<std::byte> b) { std::memset(b.data(), 0, b.size()); });
        w.write(out);
    }
    fs::remove(out);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(weight_bytes(c, DType::F32)));
}

void BM_SynthFill(benchmark::State& state, std::string preset) {
    const ModelConfig& c = find_preset(preset)->config;
    const TensorSpec head = expected_tensors(c).back();  // head.weight [V, D]: the biggest matrix
    std::vector<float> buf(size_t(head.shape[0] * head.shape[1]));
    for (auto _ : state) {
        fill_synthetic_tensor(c, 1, head, DType::F32, std::as_writable_bytes(std::span(buf)), unsigned(state.range(0)));
        benchmark::DoNotOptimize(buf.data());
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(buf.size() * 4));
}

const bool registered = [] {
    for (const char* p : {"rwkv7-tiny", "rwkv4-tiny"})
        benchmark::RegisterBenchmark(("BM_SynthFile/" + std::string(p) + "/f32").c_str(), BM_SynthFile, p, DType::F32)
            ->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);
    for (const char* p : {"rwkv7-0.1b", "rwkv4-169m"}) {
        benchmark::RegisterBenchmark(("BM_SynthFile/" + std::string(p) + "/f32").c_str(), BM_SynthFile, p, DType::F32)
            ->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
        benchmark::RegisterBenchmark(("BM_SynthFile/" + std::string(p) + "/bf16").c_str(), BM_SynthFile, p, DType::BF16)
            ->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
    }
    benchmark::RegisterBenchmark("BM_WriterZeros/rwkv7-0.1b/f32", BM_WriterZeros, "rwkv7-0.1b")
        ->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);
    benchmark::RegisterBenchmark("BM_SynthFill/rwkv7-0.1b-head", BM_SynthFill, "rwkv7-0.1b")
        ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
    return true;
}();

}  // namespace

BENCHMARK_MAIN();
