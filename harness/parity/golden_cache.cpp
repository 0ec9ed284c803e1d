#include "parity/golden_cache.hpp"

#include "io/atomic_file.hpp"
#include "dtype.hpp"
#include "errors.hpp"
#include "model_config.hpp"
#include "plugin/plugin.hpp"
#include "safetensors.hpp"
#include "io/sha256.hpp"
#include "io/utf8.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace rwkvb {
namespace {

constexpr const char* kFormat = "golden-logits/2";
constexpr int kChunkTokens = 256;  // sequence-mode chunk: bounds the reference's activations

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
    return std::as_bytes(std::span(v));
}

void check_request(const GoldenRequest& r) {
    if (r.tokens.empty()) throw InputError("golden: the token stream is empty");
    if (r.steps.empty()) throw InputError("golden: no step asked for");
    if (r.vocab <= 0) throw InputError("golden: the vocabulary size must be positive");
    for (size_t i = 0; i < r.steps.size(); ++i)
        if (r.steps[i] < 0 || size_t(r.steps[i]) >= r.tokens.size() || (i && r.steps[i] <= r.steps[i - 1]))
            throw InputError(fmt::format("golden: steps must ascend within the {} tokens (step {} is {})",
                                         r.tokens.size(), i, r.steps[i]));
}

// The rows of `r` from a loaded reference session: the stream is advanced in sequence mode with
// LOGITS_NONE up to each run of consecutive steps, which is then fed with LOGITS_ALL, so a check
// of one step late in a long stream costs a prefill, not a decode of every token.
std::vector<double> compute_rows(Session& s, const GoldenRequest& r) {
    const size_t v = size_t(r.vocab);
    std::vector<double> out(r.steps.size() * v);
    std::vector<std::byte> buf(size_t(kChunkTokens) * v * dtype_size(s.logits_dtype()));
    rwkvb_state* state = s.new_state(1);
    try {
        int pos = 0;
        size_t row = 0;
        for (size_t i = 0; i < r.steps.size();) {
            size_t j = i;
            while (j + 1 < r.steps.size() && r.steps[j + 1] == r.steps[j] + 1) ++j;
            while (pos < r.steps[i]) {
                const int n = std::min(kChunkTokens, r.steps[i] - pos);
                s.forward(state, &r.tokens[size_t(pos)], n, 1, buf.data(), RWKVB_LOGITS_NONE);
                pos += n;
            }
            while (pos <= r.steps[j]) {
                const int n = std::min(kChunkTokens, r.steps[j] + 1 - pos);
                s.forward(state, &r.tokens[size_t(pos)], n, 1, buf.data(), RWKVB_LOGITS_ALL);
                for (size_t k = 0; k < size_t(n) * v; ++k) out[row * v + k] = load_as_double(s.logits_dtype(), buf.data(), k);
                row += size_t(n);
                pos += n;
            }
            i = j + 1;
        }
        s.synchronize();
    } catch (...) {
        s.free_state(state);
        throw;
    }
    s.free_state(state);
    return out;
}

}  // namespace

std::string golden_key(const GoldenRequest& r) {
    Sha256 h;
    h.field(kFormat).field(r.model_sha256).field(r.reference_sha256);
    const uint64_t n_tokens = r.tokens.size(), n_steps = r.steps.size();
    h.update(&n_tokens, sizeof n_tokens).update(bytes_of(r.tokens));
    h.update(&n_steps, sizeof n_steps).update(bytes_of(r.steps));
    return h.hex();
}

std::filesystem::path golden_cache_file(const std::filesystem::path& cache_dir, const std::string& key) {
    return cache_dir / "golden" / (key + ".safetensors");
}

std::filesystem::path reference_plugin_path() {
    for (const auto& dir : plugin_search_dirs()) {
        std::error_code ec;
        const auto p = dir / "librwkvb_reference.so";
        if (std::filesystem::is_regular_file(p, ec)) return p;
    }
    throw InputError("the golden reference plugin (librwkvb_reference.so) is not in the plugin search path; "
                     "parity and output checks need it (set RWKVBENCH_PLUGIN_PATH or reinstall)");
}

std::string read_golden_cache(const std::filesystem::path& file, const GoldenRequest& r, GoldenLogits& g) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return "missing";
    try {
        const auto f = SafetensorsFile::open(file);
        const auto& meta = f.metadata();
        auto field = [&](const char* k) {
            const auto it = meta.find(k);
            return it == meta.end() ? std::string() : it->second;
        };
        if (field("rwkvbench") != kFormat) return "not a golden-logits file of this version";
        if (field("key") != golden_key(r)) return "it was made for another request (key mismatch)";
        const TensorView* t = f.find("tokens");
        const TensorView* s = f.find("steps");
        const TensorView* l = f.find("logits");
        if (!t || !s || !l || t->dtype != DType::I32 || s->dtype != DType::I32 || l->dtype != DType::F64)
            return "tensors tokens/steps/logits missing or of the wrong dtype";
        if (t->nbytes != r.tokens.size() * 4 || std::memcmp(t->data, r.tokens.data(), t->nbytes) != 0)
            return "it holds other tokens";
        if (s->nbytes != r.steps.size() * 4 || std::memcmp(s->data, r.steps.data(), s->nbytes) != 0)
            return "it holds other steps";
        if (l->shape != std::vector<int64_t>{int64_t(r.steps.size()), r.vocab}) return "its logits have another shape";
        const std::span<const std::byte> logits(static_cast<const std::byte*>(l->data), l->nbytes);
        const std::string digest = sha256_hex(logits);
        if (digest != field("logits_sha256")) return "its logits fail their SHA-256 check";
        g.logits.resize(r.steps.size() * size_t(r.vocab));
        std::memcpy(g.logits.data(), l->data, l->nbytes);
        // The golden is float64 from finite weights: a NaN or infinity in it is an edit, and would
        // make every comparison with it vacuous.
        if (!std::all_of(g.logits.begin(), g.logits.end(), [](double x) { return std::isfinite(x); }))
            return "it holds non-finite logits";
        g.golden_version = field("golden_version");
        g.logits_sha256 = digest;
        return "";
    } catch (const InputError& e) {
        return std::string("unreadable: ") + e.what();
    }
}

void compute_golden_into_cache(const std::filesystem::path& cache_dir, const GoldenRequest& r) {
    check_request(r);
    // Hash first, load second: what is computed from is what the parent pinned before any plugin
    // under test ran (a plugin of an earlier cell could have rewritten a file it can write).
    if (sha256_file(r.model) != r.model_sha256)
        throw InputError(fmt::format("{}: the checkpoint changed on disk since the run pinned its SHA-256",
                                     r.model.string()));
    if (sha256_file(r.reference) != r.reference_sha256)
        throw InputError(fmt::format("{}: the reference plugin changed on disk since the run pinned its SHA-256",
                                     r.reference.string()));
    const auto file = SafetensorsFile::open(r.model);
    const ModelConfig config = detect_config(file);
    if (config.vocab_size != r.vocab)
        throw InputError(fmt::format("{}: vocabulary {} where the request says {}", r.model.string(), config.vocab_size,
                                     r.vocab));
    auto plugin = Plugin::load(r.reference);
    if (plugin->name() != "reference")
        throw InputError(fmt::format("{}: provides backend '{}', not the reference", r.reference.string(), plugin->name()));
    Session s(plugin, 0, fmt::format("threads={}", r.threads));
    s.load(config, file.tensors(), (s.device().weight_dtypes & RWKVB_DTYPE_BIT(RWKVB_F64)) ? DType::F64 : DType::F32);
    const std::vector<double> logits = compute_rows(s, r);
    if (!std::all_of(logits.begin(), logits.end(), [](double x) { return std::isfinite(x); }))
        throw InputError(fmt::format("{}: the reference's logits are not finite for this stream", r.model.string()));

    SafetensorsWriter w;
    w.set_metadata("rwkvbench", kFormat);
    w.set_metadata("key", golden_key(r));
    w.set_metadata("model_sha256", r.model_sha256);
    w.set_metadata("reference_sha256", r.reference_sha256);
    w.set_metadata("golden_version", plugin->version());
    w.set_metadata("logits_sha256", sha256_hex(bytes_of(logits)));
    w.add_bytes("tokens", DType::I32, {int64_t(r.tokens.size())}, bytes_of(r.tokens));
    w.add_bytes("steps", DType::I32, {int64_t(r.steps.size())}, bytes_of(r.steps));
    w.add_bytes("logits", DType::F64, {int64_t(r.steps.size()), r.vocab}, bytes_of(logits));
    const auto path = golden_cache_file(cache_dir, golden_key(r));
    std::filesystem::create_directories(path.parent_path());
    w.write(path);
}

GoldenLogits golden_logits(const GoldenSource& source, const GoldenRequest& r, bool recompute) {
    check_request(r);
    GoldenLogits g;
    g.key = golden_key(r);
    g.path = golden_cache_file(source.cache_dir, g.key);
    const std::string problem = recompute ? "recompute" : read_golden_cache(g.path, r, g);
    if (problem.empty()) {
        g.from_cache = true;
        return g;
    }
    if (problem != "missing" && problem != "recompute") g.recomputed_because = fmt::format("cached golden {}: {}; recomputed", g.path.string(), problem);

    // The request travels in a file beside the cache entry; the child reads nothing else from us.
    const auto request_file = g.path.string() + fmt::format(".request.{}.json", ::getpid());
    write_file_atomically(request_file, golden_request_json(r));
    const ProcessOutcome o = run_process(
        source.rwkvbench, {"golden", "--request", request_file, "--cache-dir", source.cache_dir.string()},
        WorkerLimits{source.timeout_s, 0}, source.stop);
    std::error_code ec;
    std::filesystem::remove(request_file, ec);
    g.compute_s = o.wall_s;
    auto fail = [&](const std::string& what) {
        std::string tail = valid_utf8(o.output_tail);
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        if (const auto nl = tail.rfind('\n'); nl != std::string::npos) tail = tail.substr(nl + 1);
        return std::runtime_error(fmt::format("golden logits could not be computed: {}{}", what,
                                              tail.empty() ? "" : " (" + tail + ")"));
    };
    if (o.stopped) throw fail("interrupted");
    if (o.timed_out) throw fail(fmt::format("the clean-room process timed out after {:g} s", source.timeout_s));
    if (o.signal) throw fail(fmt::format("the clean-room process crashed({})", signal_abbrev(o.signal)));
    if (o.exit_code != 0) throw fail(fmt::format("the clean-room process exited with code {}", o.exit_code));
    if (const std::string after = read_golden_cache(g.path, r, g); !after.empty())
        throw fail("the entry it wrote does not check out: " + after);
    return g;
}

std::string golden_request_json(const GoldenRequest& r) {
    return nlohmann::json{{"model", r.model.string()},
                          {"model_sha256", r.model_sha256},
                          {"reference", r.reference.string()},
                          {"reference_sha256", r.reference_sha256},
                          {"tokens", r.tokens},
                          {"steps", r.steps},
                          {"vocab", r.vocab},
                          {"threads", r.threads}}
        .dump();
}

GoldenRequest golden_request_from_json(const std::string& text) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    GoldenRequest r;
    try {
        if (j.is_discarded() || !j.is_object()) throw InputError("golden request: not a JSON object");
        r.model = j.at("model").get<std::string>();
        r.model_sha256 = j.at("model_sha256").get<std::string>();
        r.reference = j.at("reference").get<std::string>();
        r.reference_sha256 = j.at("reference_sha256").get<std::string>();
        r.tokens = j.at("tokens").get<std::vector<int32_t>>();
        r.steps = j.at("steps").get<std::vector<int>>();
        r.vocab = j.at("vocab").get<int>();
        r.threads = j.at("threads").get<int>();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(std::string("golden request: ") + e.what());
    }
    check_request(r);
    return r;
}

}  // namespace rwkvb
