// run_cell: one cell in this process (DESIGN.md §4–§6). Loads the plugin and the checkpoint,
// runs one scenario with warm-up, repetitions and a minimum measured time, and returns the
// result record (reports/results.schema.json, "cell"). Every time is steady_clock around
// forward() with synchronize() before the clock starts and before it stops. The logits its
// output checks ask for are copied out between timed calls, never inside the clock, and
// written for the parent to judge (cell_verdict.hpp).
#include "run/cell.hpp"
#include "parity/cell_outputs.hpp"
#include "errors.hpp"
#include "model_config.hpp"
#include "parity/output_checks.hpp"
#include "parity/parity.hpp"
#include "plugin/plugin.hpp"
#include "presets.hpp"
#include "safetensors.hpp"
#include "measure/stats.hpp"
#include "tokens.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>

namespace rwkvb {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMaxRepetitions = 100000;  // a bound for absurdly fast plugins (a no-op)
constexpr int kLongWindowTokens = 4;     // single-token forwards timed at each long position
constexpr int kLongChunkTokens = 256;    // sequence-mode chunk that advances the state between

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

uint64_t peak_rss_bytes() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return uint64_t(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

uint64_t current_rss_bytes() {
    std::ifstream in("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    in >> size >> resident;
    return resident * uint64_t(sysconf(_SC_PAGESIZE));
}

// Command-line spelling ("f32", "int8"), the one every record and `list` use.
std::vector<std::string> dtype_mask_names(uint32_t mask) {
    std::vector<std::string> names;
    for (int d = 0; d < RWKVB_DTYPE_COUNT; ++d)
        if (mask & RWKVB_DTYPE_BIT(d)) names.emplace_back(dtype_cli_name(static_cast<DType>(d)));
    return names;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

void check_params(const ScenarioParams& p) {
    auto need = [](bool ok, const char* what) {
        if (!ok) throw InputError(fmt::format("scenario parameters: {}", what));
    };
    need(p.prompt_tokens >= 1, "prompt_tokens must be at least 1");
    need(p.decode_tokens >= 1, "decode_tokens must be at least 1");
    need(p.batch >= 1, "batch must be at least 1");
    need(p.long_positions >= 4 * kLongWindowTokens, "long_positions must be at least 16");
    need(p.long_samples >= 2, "long_samples must be at least 2");
    need(p.parity_tokens >= 1, "parity_tokens must be at least 1");
    need(p.warmup >= 0 && p.repetitions >= 1, "warmup must be ≥ 0 and repetitions ≥ 1");
    need(p.min_time_s >= 0 && std::isfinite(p.min_time_s), "min_time_s must be a non-negative number");
    need(p.target_ci >= 0 && std::isfinite(p.target_ci), "target_ci must be a non-negative number");
    need(p.max_time_s >= 0 && std::isfinite(p.max_time_s), "max_time_s must be a non-negative number");
}

// Everything a scenario needs: the loaded session, the model and its cost, a logits buffer.
struct Cell {
    const CellSpec& spec;
    const CellEnvironment& env;
    SafetensorsFile file;
    ModelConfig config{};
    ModelCost cost{};
    DType dtype{};
    std::unique_ptr<Session> session;
    std::vector<std::byte> logits;
    std::unique_ptr<CellOutputs> outputs;

    // Row `logits_row` of the last forward's logits becomes row `row` of output check `name`.
    void capture(const std::string& name, size_t row, size_t logits_row) {
        const size_t row_bytes = size_t(config.vocab_size) * dtype_size(session->logits_dtype());
        outputs->capture(name, row, logits.data() + logits_row * row_bytes);
    }

    void* logits_for(int rows) {
        const size_t need = size_t(rows) * size_t(config.vocab_size) * dtype_size(session->logits_dtype());
        if (logits.size() < need) logits.resize(need);
        return logits.data();
    }
    double forward_timed(rwkvb_state* s, const int32_t* tokens, int n, int batch, rwkvb_logits which) {
        void* out = logits_for(which == RWKVB_LOGITS_ALL ? n * batch : batch);
        session->synchronize();
        const auto t0 = Clock::now();
        session->forward(s, tokens, n, batch, out, which);
        session->synchronize();
        return seconds_since(t0);
    }
    void forward(rwkvb_state* s, const int32_t* tokens, int n, int batch, rwkvb_logits which) {
        session->forward(s, tokens, n, batch, logits_for(which == RWKVB_LOGITS_ALL ? n * batch : batch), which);
    }
};

// A state freed on every path out of a scenario.
struct StateGuard {
    Session& s;
    rwkvb_state* state;
    StateGuard(Session& session, int batch) : s(session), state(session.new_state(batch)) {}
    ~StateGuard() { s.free_state(state); }
};

// Whether the 95% CI of the median of `samples` is within ±target of the median.
bool precise_enough(const std::vector<double>& samples, double target) {
    const Summary s = summarize(samples);
    return s.median > 0 && s.ci95_coverage >= 0.95 && (s.ci95_high - s.ci95_low) / 2 <= target * s.median;
}

// Repeats `rep` (which returns the seconds it measured) `warmup` times un-timed, then until
// both `repetitions` and `min_time_s` are reached, then on while the median's CI is wider than
// ±target_ci and less than max_time_s was measured. The CI is checked at geometrically spaced
// counts, so a plugin fast enough to need 100000 repetitions does not pay a sort per repetition.
std::vector<double> repeat(const ScenarioParams& p, const std::function<double()>& rep) {
    for (int i = 0; i < p.warmup; ++i) rep();
    std::vector<double> out;
    double total = 0;
    auto step = [&] {
        out.push_back(rep());
        total += out.back();
    };
    while ((int(out.size()) < p.repetitions || total < p.min_time_s) && int(out.size()) < kMaxRepetitions) step();
    if (p.target_ci <= 0) return out;
    size_t next_check = out.size();
    while (total < p.max_time_s && int(out.size()) < kMaxRepetitions) {
        if (out.size() >= next_check) {
            if (precise_enough(out, p.target_ci)) break;
            next_check = out.size() + std::max<size_t>(1, out.size() / 8);
        }
        step();
    }
    return out;
}

Roofline roofline(Bound bound, double bytes, double flops, double seconds, const json& limits) {
    const double gbps = bytes / seconds / 1e9, gflops = flops / seconds / 1e9;
    auto fraction = [&](const char* key, double v) -> std::optional<double> {
        if (limits.is_object() && limits.contains(key) && limits[key].is_number() && limits[key].get<double>() > 0)
            return v / limits[key].get<double>();
        return std::nullopt;
    };
    return {bound, gbps, gflops, fraction("memory_read_gbps", gbps), fraction("gemm_f32_gflops", gflops), bytes, flops};
}

// Noise is judged on whole repetitions (what a rerun would see); the spread of single tokens
// inside them, when there are any, is jitter and reported apart.
Noise noise_of(const Stats& repetitions, const Stats* tokens = nullptr) {
    Noise n{repetitions.cv, kDefaultNoisyCv, repetitions.cv > kDefaultNoisyCv, repetitions.n, std::nullopt};
    if (tokens) n.jitter_cv = tokens->cv;
    return n;
}

// ---- scenarios -------------------------------------------------------------------------------

void run_prefill(Cell& c, CellResult& rec) {
    const auto& p = c.spec.params;
    // The prompt, and one token more for the un-timed LOGITS_NONE check below.
    const auto tokens = synthetic_tokens(c.spec.seed, size_t(p.prompt_tokens) + 1, c.config.vocab_size);
    StateGuard st(*c.session, 1);
    int calls = 0;  // repeat() calls the warm-up first
    const auto samples = repeat(p, [&] {
        c.session->reset_state(st.state);
        const double s = c.forward_timed(st.state, tokens.data(), p.prompt_tokens, 1, RWKVB_LOGITS_LAST);
        const int timed = calls++ - p.warmup;
        if (timed == 0) c.capture("prefill.first_rep", 0, 0);
        if (timed >= 0) c.capture("prefill.last_rep", 0, 0);
        return s;
    });
    // A prompt whose logits are not asked for must still be consumed: one token after it shows.
    c.session->reset_state(st.state);
    c.forward(st.state, tokens.data(), p.prompt_tokens, 1, RWKVB_LOGITS_NONE);
    c.forward(st.state, &tokens[size_t(p.prompt_tokens)], 1, 1, RWKVB_LOGITS_LAST);
    c.capture("prefill.none_then_token", 0, 0);
    const Stats stats = timing_stats(samples);
    const double med = stats.median;
    const double vd = double(c.config.vocab_size) * c.config.n_embd;
    // RWKV.md §8: the head runs for the last token only; the scan is in flops_per_token.
    const double flops = p.prompt_tokens * (c.cost.flops_per_token - 2 * vd) + 2 * vd;
    rec.timings["forward"] = stats;
    rec.throughput = Throughput{.tokens_per_s = p.prompt_tokens / med, .time_to_first_logits_s = med};
    rec.roofline = roofline(Bound::compute, c.cost.weight_bytes_per_token(c.dtype), flops, med, c.env.limits);
    rec.noise = noise_of(stats);
}

// Decode (batch = 1) and batch (batch = B): a prompt in sequence mode, then decode_tokens
// single-token steps, each timed.
void run_decode(Cell& c, CellResult& rec, int batch) {
    const auto& p = c.spec.params;
    const size_t per_stream = size_t(p.prompt_tokens + p.decode_tokens);
    // Stream b is stream b of the seed (stream 0: the decode scenario's tokens), laid out
    // [batch][tokens] as the ABI wants.
    std::vector<int32_t> prompt, steps;
    for (int b = 0; b < batch; ++b) {
        const auto t = synthetic_tokens(c.spec.seed, uint64_t(b), per_stream, c.config.vocab_size);
        prompt.insert(prompt.end(), t.begin(), t.begin() + p.prompt_tokens);
    }
    steps.resize(size_t(batch) * size_t(p.decode_tokens));
    for (int b = 0; b < batch; ++b) {
        const auto t = synthetic_tokens(c.spec.seed, uint64_t(b), per_stream, c.config.vocab_size);
        for (int i = 0; i < p.decode_tokens; ++i) steps[size_t(i) * size_t(batch) + size_t(b)] = t[size_t(p.prompt_tokens + i)];
    }
    StateGuard st(*c.session, batch);
    std::vector<double> per_step;
    int calls = 0;  // repeat() calls the warm-up first; its steps are not samples
    const auto sequences = repeat(p, [&] {
        c.session->reset_state(st.state);
        c.forward(st.state, prompt.data(), p.prompt_tokens, batch, RWKVB_LOGITS_NONE);
        double total = 0;
        std::vector<double> lat;
        const int timed = calls - p.warmup;
        for (int i = 0; i < p.decode_tokens; ++i) {
            lat.push_back(c.forward_timed(st.state, &steps[size_t(i) * size_t(batch)], 1, batch, RWKVB_LOGITS_LAST));
            total += lat.back();
            if (batch == 1 && timed >= 0) c.capture("decode.last_rep", size_t(i), 0);
        }
        for (int b = 0; b < batch && timed >= 0; ++b) {  // the last step's logits of every stream
            const std::string stream = batch == 1 ? std::string("decode") : fmt::format("batch.stream{}", b);
            if (timed == 0) c.capture(stream + ".first_rep", 0, size_t(b));
            if (batch > 1) c.capture(stream + ".last_rep", 0, size_t(b));
        }
        if (calls++ >= p.warmup) per_step.insert(per_step.end(), lat.begin(), lat.end());
        return total;
    });
    const Stats seq = timing_stats(sequences);
    const Stats step = timing_stats(per_step);
    rec.timings[batch == 1 ? "token" : "step"] = step;
    rec.timings["sequence"] = seq;
    // One definition of speed: the tokens of a repetition over its median time (the per-token
    // p50 is a latency, shown as one).
    Throughput tp{.tokens_per_s = double(batch) * p.decode_tokens / seq.median};
    if (batch > 1) tp.per_stream_tokens_per_s = double(p.decode_tokens) / seq.median;
    rec.throughput = tp;
    // One step reads every weight once, whatever the batch; FLOPs scale with the batch. The
    // step time is the sequence's median over its steps.
    const double step_s = seq.median / p.decode_tokens;
    rec.roofline = roofline(Bound::memory, c.cost.weight_bytes_per_token(c.dtype), batch * c.cost.flops_per_token,
                            step_s, c.env.limits);
    rec.noise = noise_of(seq, &step);
}

}  // namespace

// Where each long window starts advancing from: log-spaced, the last window ending at `total`.
// Each window takes kLongWindowTokens + 1 tokens (one un-timed step, then the timed ones), so
// consecutive starts must be more than kLongWindowTokens apart. Candidates are clamped to the
// last start BEFORE the gap check, so a clamped value can never land inside the window before.
std::vector<int> long_window_positions(int total, int samples) {
    const int last = total - kLongWindowTokens - 1;  // one un-timed token precedes each window
    const double lo = std::log(double(std::min(16, last))), hi = std::log(double(last));
    std::vector<int> pos;
    for (int i = 0; i < samples; ++i) {
        const double t = samples > 1 ? i / double(samples - 1) : 1.0;
        const int v = std::min(last, int(std::lround(std::exp(lo + (hi - lo) * t))));
        if (pos.empty() || v > pos.back() + kLongWindowTokens) pos.push_back(v);
    }
    if (pos.back() != last && last > pos.back() + kLongWindowTokens) pos.push_back(last);
    return pos;
}

namespace {

void run_long(Cell& c, CellResult& rec) {
    const auto& p = c.spec.params;
    const auto tokens = synthetic_tokens(c.spec.seed, size_t(p.long_positions), c.config.vocab_size);
    const auto positions = long_window_positions(p.long_positions, p.long_samples);
    StateGuard st(*c.session, 1);
    int pos = 0;
    double advance_s = 0;
    int advanced = 0;
    std::vector<double> all, medians;
    json windows = json::array(), state_bytes = json::array(), rss = json::array(), pos_json = json::array();
    for (int i = 0; i < p.warmup && pos < positions.front(); ++i) c.forward(st.state, &tokens[size_t(pos++)], 1, 1, RWKVB_LOGITS_LAST);
    for (size_t window = 0; window < positions.size(); ++window) {
        const int target = positions[window];
        while (pos < target) {  // advance in sequence mode: every position really passes through
            const int n = std::min(kLongChunkTokens, target - pos);
            advance_s += c.forward_timed(st.state, &tokens[size_t(pos)], n, 1, RWKVB_LOGITS_NONE);
            pos += n, advanced += n;
        }
        // One un-timed single-token step first, so every window is measured in the same steady
        // decode mode rather than right after a sequence-mode chunk.
        c.forward(st.state, &tokens[size_t(pos++)], 1, 1, RWKVB_LOGITS_LAST);
        const int measured_at = pos;
        std::vector<double> w;
        for (int k = 0; k < kLongWindowTokens; ++k, ++pos)
            w.push_back(c.forward_timed(st.state, &tokens[size_t(pos)], 1, 1, RWKVB_LOGITS_LAST));
        c.capture("long.windows", window, 0);  // step long_capture_step(target): the window's last token
        all.insert(all.end(), w.begin(), w.end());
        medians.push_back(summarize(w).median);
        pos_json.push_back(measured_at);
        windows.push_back(w);
        state_bytes.push_back(c.session->memory_usage().state);
        rss.push_back(current_rss_bytes());
    }
    const Stats stats = timing_stats(all);
    const double med = stats.median;
    auto ratio = [](double a, double b) { return b > 0 ? json(a / b) : json(); };
    rec.timings["token"] = stats;
    rec.throughput = Throughput{.tokens_per_s = 1.0 / med};
    if (advance_s > 0) rec.throughput->advance_tokens_per_s = advanced / advance_s;
    rec.long_run = {{"positions", pos_json},
                   {"latency_median_s", medians},
                   {"latency_samples_s", windows},
                   {"state_bytes", state_bytes},
                   {"rss_bytes", rss},
                   {"window_tokens", kLongWindowTokens},
                   {"chunk_tokens", kLongChunkTokens},
                   {"flatness",
                    {{"latency_last_over_first", ratio(medians.back(), medians.front())},
                     {"state_bytes_last_over_first",
                      ratio(state_bytes.back().get<double>(), state_bytes.front().get<double>())},
                     {"rss_last_over_first", ratio(rss.back().get<double>(), rss.front().get<double>())}}}};
    rec.roofline = roofline(Bound::memory, c.cost.weight_bytes_per_token(c.dtype), c.cost.flops_per_token, med,
                            c.env.limits);
    // No repetitions here: a window's median is the repeated figure (latency is meant to be flat).
    const Stats windows_stats = timing_stats(medians);
    rec.noise = noise_of(windows_stats, &stats);
}

// The logits of every way a backend may compute them, for the parent to compare with the same
// golden (cell_verdict.hpp): sequential decode (the generation path), one sequence-mode forward
// with LOGITS_ALL (the prefill path), and a batch of two streams with distinct tokens (the batch
// path: a backend that computes one stream and copies it fails there).
void run_parity(Cell& c, CellResult& rec) {
    const auto& p = c.spec.params;
    const size_t n = size_t(p.parity_tokens);
    const auto tokens = synthetic_tokens(c.spec.seed, 0, n, c.config.vocab_size);
    const auto other = synthetic_tokens(c.spec.seed, 1, n, c.config.vocab_size);
    std::vector<double> lat;
    {  // sequential decode, one token at a time from the zero state (timed)
        StateGuard st(*c.session, 1);
        for (size_t t = 0; t < n; ++t) {
            lat.push_back(c.forward_timed(st.state, &tokens[t], 1, 1, RWKVB_LOGITS_LAST));
            c.capture("parity.decode", t, 0);
        }
    }
    {  // one sequence-mode forward over all tokens, every row of logits
        StateGuard st(*c.session, 1);
        c.forward(st.state, tokens.data(), int(n), 1, RWKVB_LOGITS_ALL);
        for (size_t t = 0; t < n; ++t) c.capture("parity.sequence", t, t);
    }
    {  // two streams decoding together, each with its own tokens
        StateGuard st(*c.session, 2);
        for (size_t t = 0; t < n; ++t) {
            const int32_t both[2] = {tokens[t], other[t]};
            c.forward(st.state, both, 1, 2, RWKVB_LOGITS_LAST);
            c.capture("parity.batch2_stream0", t, 0);
            c.capture("parity.batch2_stream1", t, 1);
        }
    }
    // Timed for information only: a parity cell's speed is no performance figure (a handful of
    // tokens from a cold start), so it is never flagged noisy.
    const Stats stats = timing_stats(lat);
    rec.timings["token"] = stats;
    rec.throughput = Throughput{.tokens_per_s = 1.0 / stats.median};
}

}  // namespace

CellResult run_cell(const CellSpec& spec, const CellEnvironment& env, const std::filesystem::path& outputs) {
    check_params(spec.params);
    CellResult rec = bare_result(spec, CellStatus::ok, "");
    const auto dtype = dtype_from_cli_name(spec.dtype);
    if (!dtype) throw InputError(fmt::format("unknown dtype '{}' (expected f64, f32, f16, bf16 or int8)", spec.dtype));
    thresholds_with_overrides(*dtype, spec.parity_thresholds);  // the parent judges with them: refuse bad ones now

    auto plugin = spec.plugin_path.empty() ? find_plugin(spec.backend) : Plugin::load(spec.plugin_path);
    if (plugin->name() != spec.backend)
        throw PluginError(fmt::format("{}: provides backend '{}', not '{}'", plugin->path().string(), plugin->name(),
                                      spec.backend),
                          PluginStage::Load);
    std::string options = fmt::format("threads={}", spec.threads);
    // A directory of its own for what a plugin caches between runs (OpenCL: program binaries),
    // unless the path cannot travel in the option string; --plugin-options, later, still win.
    const std::string plugin_cache = (env.cache_dir / "plugins" / spec.backend).string();
    if (!env.cache_dir.empty() && plugin_cache.find_first_of(",=") == std::string::npos)
        options += ",cache_dir=" + plugin_cache;
    if (!spec.plugin_options.empty()) options += "," + spec.plugin_options;
    // The precision target may spend at most a quarter of the cell's wall-clock limit, so asking
    // for precision never turns a cell into a timeout.
    CellSpec measured = spec;
    measured.params.max_time_s = std::min(spec.params.max_time_s, 0.25 * spec.timeout_s);
    Cell c{measured, env, SafetensorsFile::open(spec.model_path), {}, {}, {}, nullptr, {}, nullptr};
    c.session = std::make_unique<Session>(plugin, spec.device, options);
    const auto& dev = c.session->device();
    rec.backend = BackendInfo{plugin->name(), plugin->version(), plugin->path().string(),
                              DeviceInfo{spec.device, dev.name, dev.vendor, dev.driver_version, dev.description,
                                         dev.memory_bytes, dev.compute_units, dtype_mask_names(dev.weight_dtypes),
                                         dtype_mask_names(dev.compute_dtypes),
                                         std::string(dtype_cli_name(static_cast<DType>(dev.logits_dtype)))}};
    if (!(dev.weight_dtypes & RWKVB_DTYPE_BIT(static_cast<int>(*dtype)))) {
        rec.status = CellStatus::skipped;
        rec.status_detail = fmt::format("{} device {} does not offer weight dtype {} (it offers {})", spec.backend,
                                        spec.device, spec.dtype, joined(dtype_mask_names(dev.weight_dtypes)));
        return rec;
    }

    c.config = detect_config(c.file);
    c.cost = model_cost(c.config);
    c.dtype = *dtype;
    const auto& m = c.config;
    rec.model = {{"workload", spec.workload},
                 {"path", spec.model_path.string()},
                 {"file_bytes", c.file.file_size()},
                 {"version", version_string(m)},
                 {"description", describe(m)},
                 {"dims",
                  {{"n_layer", m.n_layer},
                   {"n_embd", m.n_embd},
                   {"dim_att", m.dim_att},
                   {"dim_ffn", m.dim_ffn},
                   {"n_head", m.n_head},
                   {"head_size", m.head_size},
                   {"vocab_size", m.vocab_size}}},
                 {"params", c.cost.params},
                 {"matmul_weights", c.cost.matmul_weights},
                 {"state_floats", c.cost.state_floats},
                 {"flops_per_token", c.cost.flops_per_token},
                 {"weight_bytes_per_token", c.cost.weight_bytes_per_token(c.dtype)},
                 {"bytes_per_token", c.cost.bytes_per_token(c.dtype)}};

    const auto t_load = Clock::now();
    c.session->load(c.config, c.file.tensors(), c.dtype);
    c.session->synchronize();
    rec.load_s = seconds_since(t_load);
    c.outputs = std::make_unique<CellOutputs>(output_checks(spec), c.config.vocab_size, c.session->logits_dtype());

    switch (spec.scenario) {
        case Scenario::prefill: run_prefill(c, rec); break;
        case Scenario::decode: run_decode(c, rec, 1); break;
        case Scenario::batch: run_decode(c, rec, spec.params.batch); break;
        case Scenario::long_context: run_long(c, rec); break;
        case Scenario::parity: run_parity(c, rec); break;
    }

    const auto mem = c.session->memory_usage();
    rec.memory = Memory{{mem.weights, mem.state, mem.workspace, mem.peak},
                        weight_bytes(c.config, c.dtype),
                        uint64_t(c.cost.state_floats) * 4,
                        peak_rss_bytes()};
    if (!outputs.empty()) c.outputs->write(outputs, spec.id());
    return rec;
}

}  // namespace rwkvb
