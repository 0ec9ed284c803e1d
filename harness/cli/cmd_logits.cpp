// `rwkvbench logits`: run one backend over a token stream and save exactly the logits it
// produced, so they can be compared with the golden (or with another backend) offline.
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "dtype.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "model_config.hpp"
#include "plugin/plugin.hpp"
#include "safetensors.hpp"
#include "tokens.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace rwkvb {
namespace {

struct LogitsArgs {
    std::string backend;
    std::filesystem::path model;
    std::string tokens;  // a safetensors file with I32 `tokens`, or a count with --seed
    uint64_t seed = 1;
    std::string mode = "sequence";
    int chunk = 0;
    std::string dtype = "f32";
    int threads = 0;
    int device = 0;
    std::vector<std::filesystem::path> plugins;
    std::filesystem::path output;
};

// --tokens: an existing file wins; otherwise a plain positive integer is a count.
std::vector<int32_t> load_tokens(const LogitsArgs& a, int32_t vocab) {
    if (!std::filesystem::exists(a.tokens)) {
        size_t used = 0;
        long long n = -1;
        try {
            n = std::stoll(a.tokens, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used != a.tokens.size() || n <= 0)
            throw InputError(fmt::format("--tokens '{}': no such file, and not a positive token count", a.tokens));
        if (n > (1 << 24)) throw InputError(fmt::format("--tokens {}: more than 16777216 tokens", n));
        return synthetic_tokens(a.seed, static_cast<size_t>(n), vocab);
    }
    return read_tokens(a.tokens, vocab);
}

// Progress on stderr for runs that last: at most one line every two seconds.
class Progress {
public:
    explicit Progress(size_t total) : total_(total), start_(clock::now()), last_(start_) {}
    void update(size_t done) {
        const auto now = clock::now();
        if (now - last_ < std::chrono::seconds(2)) return;
        last_ = now;
        const double s = std::chrono::duration<double>(now - start_).count();
        std::fprintf(stderr, "logits: %zu/%zu tokens, %.1f tokens/s\n", done, total_, done / s);
    }
    double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

private:
    using clock = std::chrono::steady_clock;
    size_t total_;
    clock::time_point start_, last_;
};

std::string mask_names(uint32_t mask) {
    std::string s;
    for (int d = 0; d < RWKVB_DTYPE_COUNT; ++d)
        if (mask & RWKVB_DTYPE_BIT(d)) {
            std::string_view n = dtype_cli_name(static_cast<DType>(d));
            s += (s.empty() ? "" : ", ") + std::string(n.empty() ? dtype_name(static_cast<DType>(d)) : n);
        }
    return s.empty() ? "none" : s;
}

int run_logits(const LogitsArgs& a) {
    check_path_argument("--model", a.model);
    check_path_argument("-o", a.output);
    for (const auto& p : a.plugins) check_path_argument("--plugin", p);
    const auto file = SafetensorsFile::open(a.model);
    const ModelConfig cfg = detect_config(file);
    const std::vector<int32_t> tokens = load_tokens(a, cfg.vocab_size);
    const auto weight_dtype = dtype_from_cli_name(a.dtype);
    if (!weight_dtype) throw InputError(fmt::format("--dtype '{}' is not one of f32, f16, bf16, int8", a.dtype));
    if (a.mode == "sequential" && a.chunk != 0)
        throw InputError("--chunk applies to --mode sequence only (sequential feeds one token per call)");

    auto plugin = find_plugin(a.backend, a.plugins);
    const int n_dev = plugin->device_count();
    if (a.device < 0 || a.device >= n_dev)
        throw InputError(fmt::format("--device {}: backend '{}' has {} device(s)", a.device, a.backend, n_dev));
    const rwkvb_device_info info = plugin->device_info(a.device);
    if (!(info.weight_dtypes & RWKVB_DTYPE_BIT(static_cast<int>(*weight_dtype))))
        throw InputError(fmt::format("--dtype {}: backend '{}' ({}) offers {}", a.dtype, a.backend, info.name,
                                     mask_names(info.weight_dtypes)));

    Session session(plugin, a.device, a.threads > 0 ? fmt::format("threads={}", a.threads) : "");
    session.load(cfg, file.tensors(), *weight_dtype);

    const size_t T = tokens.size(), V = static_cast<size_t>(cfg.vocab_size);
    const DType out_dtype = session.logits_dtype();
    const size_t es = dtype_size(out_dtype);
    std::vector<std::byte> logits(T * V * es);
    rwkvb_state* state = session.new_state(1);
    Progress progress(T);
    try {
        if (a.mode == "sequential") {
            for (size_t t = 0; t < T; ++t) {
                session.forward(state, &tokens[t], 1, 1, logits.data() + t * V * es, RWKVB_LOGITS_LAST);
                progress.update(t + 1);
            }
        } else {
            const size_t chunk = a.chunk > 0 ? static_cast<size_t>(a.chunk) : T;
            for (size_t t0 = 0; t0 < T; t0 += chunk) {
                const size_t n = std::min(chunk, T - t0);
                session.forward(state, &tokens[t0], static_cast<int>(n), 1, logits.data() + t0 * V * es,
                                RWKVB_LOGITS_ALL);
                progress.update(t0 + n);
            }
        }
        session.synchronize();
    } catch (...) {
        session.free_state(state);
        throw;
    }
    session.free_state(state);
    const double seconds = progress.seconds();

    SafetensorsWriter w;
    w.set_metadata("backend", plugin->name());
    w.set_metadata("backend_version", plugin->version());
    w.set_metadata("device", info.name);
    w.set_metadata("mode", a.mode);
    w.set_metadata("chunk", std::to_string(a.mode == "sequence" ? (a.chunk > 0 ? a.chunk : static_cast<int>(T)) : 1));
    w.set_metadata("dtype", a.dtype);
    w.set_metadata("model", a.model.string());
    w.set_metadata("model_config", describe(cfg));
    w.set_metadata("tokens_source", std::filesystem::exists(a.tokens) ? a.tokens
                                                                      : fmt::format("synthetic count={} seed={}", T, a.seed));
    w.add_bytes("tokens", DType::I32, {static_cast<int64_t>(T)},
                std::span<const std::byte>(reinterpret_cast<const std::byte*>(tokens.data()), T * sizeof(int32_t)));
    w.add_bytes("logits", out_dtype, {static_cast<int64_t>(T), static_cast<int64_t>(V)}, logits);
    w.write(a.output);
    std::printf("wrote %s: %zu tokens × %zu logits (%s) from %s on %s, %s mode, %.2f s\n", a.output.c_str(), T, V,
                std::string(dtype_name(out_dtype)).c_str(), plugin->name().c_str(), info.name, a.mode.c_str(), seconds);
    return kExitOk;
}

}  // namespace

void register_logits(CLI::App& app) {
    auto a = std::make_shared<LogitsArgs>();
    auto* cmd = app.add_subcommand("logits", "Run one backend over a token stream and save the logits it produced");
    cmd->footer(
        "The output holds `tokens` (I32 [T]) and `logits` ([T, V] in the backend's logits dtype: F64 for the\n"
        "golden `reference`, F32 for others), exactly as the backend wrote them, with metadata naming the\n"
        "backend, device, mode and model. --mode sequential calls forward once per token (logits of the last\n"
        "token); --mode sequence feeds chunks of --chunk tokens (default: the whole prompt) and keeps every row.\n\n"
        "Examples:\n"
        "  rwkvbench logits --backend reference --model ../shared/fixtures/rwkv7-tiny/model.safetensors \\\n"
        "      --tokens ../shared/fixtures/rwkv7-tiny/golden.safetensors -o golden7.safetensors\n"
        "  rwkvbench synth rwkv7-0.1b -o m.safetensors && \\\n"
        "    rwkvbench logits --backend onednn --model m.safetensors --tokens 256 --seed 3 --mode sequential -o o.safetensors\n"
        "Exit codes: 0 written; 2 bad flag, file or unknown backend; 4 the backend failed.");
    cmd->add_option("--backend,-b", a->backend, "Backend name (see `rwkvbench list`)")->required();
    cmd->add_option("--model,-m", a->model, "Checkpoint (.safetensors, official RWKV naming)")->required();
    cmd->add_option("--tokens", a->tokens,
                    "A .safetensors file with an I32 `tokens` tensor (a fixture's golden.safetensors works), "
                    "or a token count used with --seed")
        ->required();
    cmd->add_option("--seed", a->seed, "Seed of the synthetic token stream (with --tokens N)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--mode", a->mode, "sequence (chunks, every row's logits) or sequential (one token per call)")
        ->check(CLI::IsMember({"sequence", "sequential"}))
        ->capture_default_str();
    cmd->add_option("--chunk", a->chunk, "Tokens per forward call in sequence mode (0 = the whole prompt)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--dtype", a->dtype, "Weight dtype the backend computes with")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "int8"}))
        ->capture_default_str();
    cmd->add_option("--threads", a->threads, "Threads for the backend (0 = its default)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--device", a->device, "Device index of the backend")->capture_default_str()->check(CLI::Range(0, 1 << 16));
    cmd->add_option("--plugin", a->plugins, "Extra plugin library (.so) besides the ones found; repeatable");
    cmd->add_option("-o,--output", a->output, "Output .safetensors file")->required();
    set_action(cmd, [a] { return run_logits(*a); });
}

}  // namespace rwkvb
