// `rwkvbench synth`: write a preset's deterministic synthetic weights to a safetensors file.
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "presets.hpp"
#include "synth.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

namespace rwkvb {
namespace {

struct SynthOptions {
    std::string preset;
    uint64_t seed = 1;
    std::string dtype = "f32";
    std::string output;
    unsigned threads = 0;
};

int run_synth(const SynthOptions& o) {
    check_path_argument("-o", o.output);
    const Preset* p = find_preset(o.preset);
    if (!p)
        throw InputError(fmt::format("--preset: unknown preset '{}' (closest: {}; `rwkvbench models` lists all)",
                                     o.preset, fmt::join(close_preset_names(o.preset, 4), ", ")));
    const auto dtype = dtype_from_cli_name(o.dtype);
    if (!dtype || (*dtype != DType::F32 && *dtype != DType::F16 && *dtype != DType::BF16 && *dtype != DType::F64))
        throw InputError(fmt::format("--dtype: '{}' is not a synthetic weight dtype (use f32, f16, bf16 or f64)",
                                     o.dtype));
    const double bytes = double(weight_bytes(p->config, *dtype));
    std::fprintf(stderr, "rwkvbench synth: %s (%s), seed %llu, %s, %.3f GB -> %s\n", p->name.c_str(),
                 describe(p->config).c_str(), static_cast<unsigned long long>(o.seed), o.dtype.c_str(), bytes / 1e9,
                 o.output.c_str());
    const auto t0 = std::chrono::steady_clock::now();
    write_synthetic_model(p->config, o.seed, *dtype, o.output, p->name, o.threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "rwkvbench synth: wrote %.3f GB in %.2f s (%.2f GB/s)\n", bytes / 1e9, s,
                 s > 0 ? bytes / 1e9 / s : 0.0);
    return kExitOk;
}

}  // namespace

void register_synth(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "synth",
        "Write deterministic synthetic weights for a preset, in the official RWKV checkpoint layout. "
        "The bytes depend only on (preset, seed, dtype): identical on every machine and thread count. "
        "Values follow the official initialisation ranges (decay, bonus, mix parameters), so "
        "activations stay well inside float16 range. Example:\n"
        "  rwkvbench synth --preset rwkv7-0.1b --seed 1 -o rwkv7-0.1b.safetensors\n"
        "  rwkvbench synth rwkv4-169m --dtype f16 -o rwkv4-169m-f16.safetensors");
    auto o = std::make_shared<SynthOptions>();
    cmd->add_option("preset,--preset", o->preset, "Preset name (see `rwkvbench models`), e.g. rwkv7-0.1b")
        ->required();
    cmd->add_option("--seed", o->seed, "Seed of the weights (default 1)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--dtype", o->dtype, "Element type of the file: f32 (default), f16, bf16 or f64");
    cmd->add_option("-o,--output", o->output, "Output .safetensors path (written atomically)")->required();
    cmd->add_option("--threads", o->threads,
                    "Threads per large tensor (0 = $RWKVB_SYNTH_THREADS or every core); never changes the bytes")
        ->check(CLI::Range(0u, 1u << 16));
    set_action(cmd, [o] { return run_synth(*o); });
}

}  // namespace rwkvb
