// The harness adds nothing measurable (DESIGN.md §5): the no-op plugin's forward called through
// rwkvb::Session — the path scenarios use — against the same call straight through the table.
// The per-call overhead is the difference of the two medians.
#include "plugin/plugin.hpp"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <vector>

namespace {

struct Fixture {
    std::shared_ptr<rwkvb::Plugin> plugin =
        rwkvb::Plugin::load(std::filesystem::path(RWKVB_FAULT_PLUGIN_DIR) / "librwkvb_noop.so");
    rwkvb::Session session{plugin, 0, ""};
    rwkvb_state* state = nullptr;
    std::vector<float> logits = std::vector<float>(16);
    int32_t token = 3;

    Fixture() {
        rwkvb_model_config config{};
        config.version = 7;
        config.vocab_size = 16;
        session.load(config, {}, rwkvb::DType::F32);
        state = session.new_state(1);
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

void BM_ForwardThroughSession(benchmark::State& st) {
    auto& f = fixture();
    for (auto _ : st) {
        f.session.forward(f.state, &f.token, 1, 1, f.logits.data(), RWKVB_LOGITS_LAST);
        benchmark::ClobberMemory();
    }
}

void BM_ForwardDirect(benchmark::State& st) {
    auto& f = fixture();
    const rwkvb_backend& t = f.plugin->table();
    rwkvb_context* ctx = f.session.context();
    for (auto _ : st) {
        benchmark::DoNotOptimize(t.forward(ctx, f.state, &f.token, 1, 1, f.logits.data(), RWKVB_LOGITS_LAST));
        benchmark::ClobberMemory();
    }
}

BENCHMARK(BM_ForwardDirect);
BENCHMARK(BM_ForwardThroughSession);

}  // namespace

BENCHMARK_MAIN();
