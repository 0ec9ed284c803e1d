// Speed of the safetensors writer (synthetic weights must reach >= 1 GB/s), the reader's open
// (header parse + validation), f16/bf16 conversion and synthetic tokens.
//   bench_workloads_io --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The writer writes into $TMPDIR (default /tmp): its numbers depend on that filesystem.
#include "malformed_corpus.hpp"
#include "safetensors.hpp"
#include "tokens.hpp"

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

namespace {

using namespace rwkvb;

std::string indexed(const char* prefix, int64_t i, const char* suffix = "") {
    std::string s = prefix;  // not prefix + to_string(i): GCC 12 warns falsely (-Wrestrict)
    s += std::to_string(i);
    s += suffix;
    return s;
}

// args: total MiB, number of tensors, durable (fsync) or not. The filler is a memset, so this
// is the writer's own cost (page faults, header, threads, fsync, rename).
void BM_WriterThroughput(benchmark::State& state) {
    const uint64_t total = uint64_t(state.range(0)) << 20;
    const int n = int(state.range(1));
    const auto sync = state.range(2) ? SafetensorsWriter::Sync::Durable : SafetensorsWriter::Sync::NoSync;
    testing::TempDir dir;
    SafetensorsWriter w;
    for (int i = 0; i < n; ++i)
        w.add(indexed("t", i), DType::F32, {int64_t(total / uint64_t(n) / 4)},
              [](std::span<std::byte> s) { std::memset(s.data(), 0x3C, s.size()); });
    for (auto _ : state) w.write(dir.path() / "w.safetensors", sync);
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(total));
}
BENCHMARK(BM_WriterThroughput)->Name("writer/tiny")->Args({1, 4, 1})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WriterThroughput)->Name("writer")->ArgNames({"MiB", "tensors", "fsync"})
    ->Args({256, 2, 1})->Args({256, 64, 1})->Args({256, 64, 0})->Args({1024, 64, 0})
    ->UseRealTime()->Unit(benchmark::kMillisecond);

// Opening a file with many tensors: mmap + JSON parse + checks (no data is read).
void BM_ReaderOpen(benchmark::State& state) {
    testing::TempDir dir;
    SafetensorsWriter w;
    for (int i = 0; i < state.range(0); ++i)
        w.add(indexed("blocks.", i, ".att.key.weight"), DType::F16, {16, 16}, nullptr);
    const auto path = dir.path() / "r.safetensors";
    w.write(path);
    for (auto _ : state) benchmark::DoNotOptimize(SafetensorsFile::open(path).tensors().size());
    state.SetItemsProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ReaderOpen)->Name("reader_open/tiny")->Arg(10);
BENCHMARK(BM_ReaderOpen)->Name("reader_open")->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_F32ToF16(benchmark::State& state) {
    std::vector<float> in(1 << 16);
    std::mt19937 rng(1);
    for (float& f : in) f = float(rng()) / float(rng.max()) * 4 - 2;
    std::vector<uint16_t> out(in.size());
    const bool soft = state.range(0) != 0;
    for (auto _ : state) {
        for (size_t i = 0; i < in.size(); ++i) out[i] = soft ? detail::f32_to_f16_soft(in[i]) : f32_to_f16(in[i]);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(in.size()));
}
BENCHMARK(BM_F32ToF16)->Name("f32_to_f16/hw")->Arg(0);
BENCHMARK(BM_F32ToF16)->Name("f32_to_f16/soft")->Arg(1);

void BM_SyntheticTokens(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(synthetic_tokens(42, size_t(state.range(0)), 65536).data());
    state.SetItemsProcessed(int64_t(state.iterations()) * state.range(0));
}
BENCHMARK(BM_SyntheticTokens)->Name("synthetic_tokens/tiny")->Arg(100);
BENCHMARK(BM_SyntheticTokens)->Name("synthetic_tokens")->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();
