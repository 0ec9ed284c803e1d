// Synthetic weights. Two rules keep the bytes identical on every machine and thread count:
//  - element i of a tensor is a pure function of (seed, tensor name, i): a counter-based hash
//    (splitmix64's finaliser), so any thread may fill any range in any order;
//  - values use only correctly rounded IEEE operations (+ − × ÷, integer→float, frexp/ldexp).
//    Matrices are uniform with the wanted standard deviation (one float multiply per entry);
//    the few per-channel ramps that need pow/exp/log use the small fixed-series versions below
//    instead of libm, whose results may differ between libc versions. GCC and clang would
//    otherwise fuse a*b+c into one FMA where the target has it (-march=x86-64-v3 does, a
//    baseline build does not), changing roundings: contraction is off for this whole file,
//    set before any include so every function here shares the same options (and inlines).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "synth.hpp"

#include "errors.hpp"
#include "presets.hpp"
#include "safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

namespace rwkvb {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
    return h;
}

// Element i's 24 random bits as an odd integer in (-2^24, 2^24): exact in float, symmetric.
// One hash serves elements 2j and 2j+1, which halves the cost of the big matrices.
struct Stream {
    uint64_t key;
    int32_t odd(uint64_t i) const {
        const uint64_t h = mix64(key + ((i >> 1) + 1) * kGolden);
        const uint32_t bits = (i & 1) ? uint32_t(h >> 40) : uint32_t((h >> 8) & 0xFFFFFF);
        return int32_t(bits) * 2 - 0xFFFFFF;
    }
    // Uniform on (-1, 1).
    double sym(uint64_t i) const { return double(odd(i)) * 0x1p-24; }
};

// --- deterministic elementary functions (only + − × ÷ and exact frexp/ldexp) -------------------

constexpr double kLn2 = 0.69314718055994530942;

double det_log(double x) {  // x > 0
    int e = 0;
    double m = std::frexp(x, &e);  // x = m·2^e, m in [0.5, 1)
    if (m < 0.70710678118654752440) {
        m *= 2;
        e -= 1;
    }
    const double s = (m - 1) / (m + 1), s2 = s * s;  // |s| < 0.172
    double term = s, sum = 0;
    for (int k = 1; k <= 27; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2 * sum + e * kLn2;
}

double det_exp(double x) {
    if (x < -700) return 0;
    const double k = std::floor(x / kLn2 + 0.5);
    const double r = x - k * kLn2;  // |r| <= 0.35
    double term = 1, sum = 1;
    for (int n = 1; n <= 22; ++n) {
        term *= r / n;
        sum += term;
    }
    return std::ldexp(sum, int(k));
}

double det_pow(double x, double y) {  // x >= 0
    if (y == 0) return 1;
    if (x == 0) return 0;
    return det_exp(y * det_log(x));
}

// --- what each tensor holds -----------------------------------------------------------------

// A tensor is either uniform noise of a given standard deviation (every matrix), or, for small
// per-channel parameters, base(channel) + uniform noise, optionally clamped to [0, 1].
struct Recipe {
    double std = 0;                        // of the uniform noise
    std::function<double(int64_t)> base;   // per flat index; empty: 0
    bool clamp01 = false;                  // lerp weights stay in [0, 1]
};

struct Layer {
    int index = -1;        // -1 outside blocks
    double r01 = 0;        // 0 at the first block, 1 at the last ("ratio_0_to_1")
    double r1a0 = 1;       // 1 at the first block, 1/L at the last ("ratio_1_to_almost0")
    std::string_view key;  // name inside the block, e.g. "att.time_decay"
};

Layer parse_layer(const std::string& name, int n_layer) {
    Layer l;
    l.key = name;
    if (!name.starts_with("blocks.")) return l;
    const size_t dot = name.find('.', 7);
    l.index = std::atoi(name.c_str() + 7);
    l.key = std::string_view(name).substr(dot + 1);
    l.r01 = n_layer > 1 ? double(l.index) / (n_layer - 1) : 0.0;
    l.r1a0 = 1.0 - double(l.index) / n_layer;
    return l;
}

// Noise scales of the golden fixtures' generator (fixtures.json "init_scales").
constexpr double kEmbStd = 0.5, kLnWNoise = 0.1, kLnBNoise = 0.05, kMixNoise = 0.05, kDecayNoise = 0.3,
                 kFirstNoise = 0.2, kLnxNoise = 0.1, kV7Noise = 0.05, kHeadGain = 2.5, kLoraIn = 0.7;

Recipe recipe_for(const ModelConfig& c, const TensorSpec& spec) {
    const Layer l = parse_layer(spec.name, c.n_layer);
    const std::string_view k = l.key;
    const double D = c.n_embd, A = c.dim_att, F = c.dim_ffn;
    const int64_t N = std::max(1, c.head_size);
    auto fan = [](double gain, double fan_in) { return gain / std::sqrt(fan_in); };
    // ddd = channel / D: the ramp every official mix initialisation starts from.
    auto ramp = [D](double power, double offset = 0, bool one_minus = false) {
        return [=](int64_t i) {
            const double v = det_pow(double(i % int64_t(D)) / D, power) + offset;
            return one_minus ? 1 - v : v;
        };
    };
    auto mix = [&](double power, double offset = 0, bool one_minus = false) {
        return Recipe{kMixNoise, ramp(power, offset, one_minus), true};
    };
    auto constant = [](double v) { return [v](int64_t) { return v; }; };
    auto frac = [](int64_t i, double n) { return n > 1 ? double(i) / (n - 1) : 0.0; };

    // Shared by every version.
    if (k == "emb.weight") return {kEmbStd, {}};
    if (k == "head.weight") return {fan(kHeadGain, D), {}};
    if (k.ends_with("ln_x.weight"))  // deeper blocks get a larger output norm (RWKV-LM x070)
        return {kLnxNoise, constant(det_pow((1.0 + l.index) / c.n_layer, 0.7))};
    if (k.ends_with("ln_x.bias")) return {kLnBNoise, {}};
    if (k == "ln0.weight" || k == "ln1.weight" || k == "ln2.weight" || k == "ln_out.weight")
        return {kLnWNoise, constant(1.0)};
    if (k == "ln0.bias" || k == "ln1.bias" || k == "ln2.bias" || k == "ln_out.bias") return {kLnBNoise, {}};

    // Projections: ~1/sqrt(fan_in), output projections and the key smaller (fixtures' gains).
    const bool v4 = c.version == 4, v7 = c.version == 7;
    if (k == "att.receptance.weight" || k == "att.value.weight" || k == "att.gate.weight" ||
        k == "ffn.receptance.weight")
        return {fan(1.0, D), {}};
    if (k == "att.key.weight") return {fan(v4 ? 1.0 : 0.5, D), {}};
    if (k == "att.output.weight") return {fan(0.5, A), {}};
    if (k == "ffn.key.weight") return {v4 ? fan(1.0, D) : v7 ? fan(0.5, D) : fan(1.0, F), {}};
    if (k == "ffn.value.weight") return {fan(0.5, F), {}};
    // LoRA: inputs ~0.7/sqrt(D); outputs small (v6 uniform ±0.08, v7 0.8/sqrt(D)).
    if (k == "att.time_maa_w1" || k == "att.time_decay_w1" || k == "att.w1" || k == "att.a1" ||
        k == "att.v1" || k == "att.g1")
        return {fan(kLoraIn, D), {}};
    if (k == "att.time_maa_w2" || k == "att.time_decay_w2") return {0.08 / std::sqrt(3.0), {}};
    if (k == "att.w2" || k == "att.a2" || k == "att.v2" || k == "att.g2") return {fan(0.8, D), {}};

    const double r01 = l.r01, r1 = l.r1a0;
    if (c.version <= 5) {  // lerp weights: x·μ + prev·(1−μ)
        if (k == "att.time_mix_k" || k == "ffn.time_mix_k" || k == "ffn.time_mix_r") return mix(r1);
        if (k == "att.time_mix_v") return mix(r1, 0.3 * r01);
        if (k == "att.time_mix_r" || k == "att.time_mix_g") return mix(0.5 * r1);
    }
    if (v4) {
        // decay d in [-5, 3]: per-step factor exp(-exp(d)) from ~0.993 down to ~0.
        if (k == "att.time_decay")
            return {kDecayNoise, [=](int64_t i) { return -5 + 8 * det_pow(frac(i, A), 0.7 + 1.3 * r01); }};
        if (k == "att.time_first")  // log(0.3) plus a zigzag
            return {kFirstNoise, [](int64_t i) { return det_log(0.3) + double((i + 1) % 3 - 1) * 0.5; }};
    }
    if (c.version == 5 && c.subversion < 2) {  // per-head decay and log-bonus (preview formats)
        const double H = c.n_head;
        if (k == "att.time_decay")
            return {kDecayNoise, [=](int64_t i) { return -8 + 7 * det_pow(frac(i, H), 0.7 + 1.3 * r01); }};
        if (k == "att.time_first" || k == "att.time_faaaa") return {kFirstNoise, constant(-3.0)};
    }
    if ((c.version == 5 && c.subversion == 2) || c.version == 6) {
        // per-channel decay in [-6, -1] (factor 0.9975 .. 0.69) and bonus u around 0..1
        if (k == "att.time_decay")
            return {kDecayNoise, [=](int64_t i) { return -6 + 5 * det_pow(frac(i, A), 0.7 + 1.3 * r01); }};
        if (k == "att.time_faaaa")
            return {kFirstNoise,
                    [=](int64_t i) { return r01 * (1 - frac(i, A)) + double((i + 1) % 3 - 1) * 0.1; }};
    }
    if (c.version == 6) {  // v6 lerp: x + (prev − x)·μ, so μ_v6 = 1 − μ_v4
        if (k == "att.time_maa_x" || k == "att.time_maa_w" || k == "att.time_maa_k" || k == "ffn.time_maa_k" ||
            k == "ffn.time_maa_r")
            return mix(r1, 0, true);
        if (k == "att.time_maa_v") return mix(r1, 0.3 * r01, true);
        if (k == "att.time_maa_r" || k == "att.time_maa_g") return mix(0.5 * r1, 0, true);
    }
    if (v7) {
        auto linear = [=](int64_t i) { return frac(i % int64_t(D), D) - 0.5; };
        auto zigzag = [=](int64_t i) {
            const double half = (N - 1) / 2.0, z = half > 0 ? (double(i % N) - half) / half : 0;
            return z * std::fabs(z);
        };
        if (k == "att.x_r" || k == "att.x_g") return mix(0.2 * r1, 0, true);
        if (k == "att.x_w" || k == "att.x_a") return mix(0.9 * r1, 0, true);
        if (k == "att.x_k" || k == "att.x_v") return mix(0.7 * r1, 0, true);
        if (k == "ffn.x_k") return mix(r1 * r1 * r1 * r1, 0, true);
        // decay bias: sigmoid(w0) spans (0, 1), so the factor spans (0.5452, 1)
        if (k == "att.w0")
            return {kV7Noise, [=](int64_t i) {
                        return -6 + 6 * det_pow(frac(i, D), 1 + det_pow(r01, 0.3)) + 0.5 + 2.5 * zigzag(i);
                    }};
        if (k == "att.a0") return {kV7Noise, [=](int64_t i) { return -0.19 + 0.4 * linear(i) + 0.3 * zigzag(i); }};
        if (k == "att.v0") return {kV7Noise, [=](int64_t i) { return 0.73 - 0.4 * linear(i); }};
        if (k == "att.k_k") return {kV7Noise, [=](int64_t i) { return 0.71 - 0.1 * linear(i); }};
        if (k == "att.k_a") return {kV7Noise, constant(1.02)};
        if (k == "att.r_k") return {kV7Noise, constant(-0.04)};
    }
    throw std::logic_error(fmt::format("synth: no recipe for tensor '{}' of {}", spec.name, describe(c)));
}

// Writes values [begin, end) of the tensor into `out` (whose element 0 is element `begin`).
void fill_range(const Recipe& r, const Stream& s, DType dtype, int64_t begin, int64_t end, std::byte* out) {
    constexpr int64_t kBlock = 2048;
    float buf[kBlock];
    const float scale = float(r.std * std::sqrt(3.0) * 0x1p-24);  // odd ∈ (−2^24, 2^24) → ±√3·σ
    const size_t es = dtype_size(dtype);
    for (int64_t b = begin; b < end; b += kBlock) {
        const int64_t n = std::min(kBlock, end - b);
        if (!r.base) {
            for (int64_t j = 0; j < n; ++j) buf[j] = float(s.odd(uint64_t(b + j))) * scale;
        } else {
            for (int64_t j = 0; j < n; ++j) {
                double v = r.base(b + j) + s.sym(uint64_t(b + j)) * (r.std * std::sqrt(3.0));
                if (r.clamp01) v = std::clamp(v, 0.0, 1.0);
                buf[j] = float(v);
            }
        }
        std::byte* dst = out + (b - begin) * int64_t(es);
        switch (dtype) {
            case DType::F32: std::memcpy(dst, buf, size_t(n) * 4); break;
            case DType::F64:
                for (int64_t j = 0; j < n; ++j) {
                    const double d = buf[j];
                    std::memcpy(dst + j * 8, &d, 8);
                }
                break;
            case DType::F16:
            case DType::BF16:
                for (int64_t j = 0; j < n; ++j) {
                    const uint16_t h = dtype == DType::F16 ? f32_to_f16(buf[j]) : f32_to_bf16(buf[j]);
                    std::memcpy(dst + j * 2, &h, 2);
                }
                break;
            default: throw std::invalid_argument("synth: unsupported dtype");
        }
    }
}

unsigned resolve_threads(unsigned threads) {
    if (threads > 0) return threads;
    if (const char* env = std::getenv("RWKVB_SYNTH_THREADS")) {
        const int v = std::atoi(env);
        if (v > 0) return unsigned(v);
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

void fill_synthetic_tensor(const ModelConfig& c, uint64_t seed, const TensorSpec& spec, DType dtype,
                           std::span<std::byte> out, unsigned threads) {
    if (dtype != DType::F32 && dtype != DType::F64 && dtype != DType::F16 && dtype != DType::BF16)
        throw InputError(fmt::format("synthetic weights: dtype {} is not supported (use f32, f16, bf16 or f64)",
                                     dtype_name(dtype)));
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    if (out.size() != uint64_t(n) * dtype_size(dtype))
        throw std::invalid_argument(fmt::format("synth: {} bytes for tensor '{}' of {} elements", out.size(),
                                                spec.name, n));
    const Recipe r = recipe_for(c, spec);
    const Stream s{mix64(seed * kGolden ^ mix64(fnv1a(spec.name)))};
    // Large tensors are split into chunks; the split changes nothing in the bytes.
    constexpr int64_t kMinChunk = int64_t(1) << 21;
    const int64_t parts = std::min<int64_t>(resolve_threads(threads), std::max<int64_t>(1, n / kMinChunk));
    if (parts <= 1) {
        fill_range(r, s, dtype, 0, n, out.data());
        return;
    }
    std::vector<std::thread> pool;
    const int64_t per = (n + parts - 1) / parts;
    for (int64_t p = 1; p < parts; ++p) {
        const int64_t b = p * per, e = std::min(n, b + per);
        if (b < e) pool.emplace_back([&, b, e] { fill_range(r, s, dtype, b, e, out.data() + b * int64_t(dtype_size(dtype))); });
    }
    fill_range(r, s, dtype, 0, std::min(n, per), out.data());
    for (auto& t : pool) t.join();
}

void write_synthetic_model(const ModelConfig& c, uint64_t seed, DType dtype, const std::filesystem::path& out,
                           const std::string& preset_name, unsigned threads) {
    validate_config(c, preset_name.empty() ? "synthetic model" : preset_name);
    if (dtype != DType::F32 && dtype != DType::F64 && dtype != DType::F16 && dtype != DType::BF16)
        throw InputError(fmt::format("synthetic weights: dtype {} is not supported (use f32, f16, bf16 or f64)",
                                     dtype_name(dtype)));
    SafetensorsWriter w;
    w.set_metadata("generator", kSynthGenerator);
    w.set_metadata("preset", preset_name);
    w.set_metadata("seed", std::to_string(seed));
    w.set_metadata("rwkv_version", version_string(c));
    w.set_metadata("n_layer", std::to_string(c.n_layer));
    w.set_metadata("n_embd", std::to_string(c.n_embd));
    w.set_metadata("dim_att", std::to_string(c.dim_att));
    w.set_metadata("ffn_dim", std::to_string(c.dim_ffn));
    w.set_metadata("vocab_size", std::to_string(c.vocab_size));
    if (c.version >= 5) {
        w.set_metadata("n_head", std::to_string(c.n_head));
        w.set_metadata("head_size", std::to_string(c.head_size));
    }
    if (c.version == 6) w.set_metadata("lora_dims", fmt::format("maa={} decay={}", c.lora_maa, c.lora_decay));
    if (c.version == 7)
        w.set_metadata("lora_dims", fmt::format("w={} a={} v={} g={}", c.lora_decay, c.lora_iclr, c.lora_value,
                                                c.lora_gate));
    w.set_metadata("note", "SYNTHETIC weights (not a trained model) in the official RWKV layout: "
                           "official initialisation ranges plus noise; " + describe(c));
    // The writer runs fillers for different tensors on its own threads; each filler may split
    // its own tensor further.
    const unsigned per_tensor_threads = resolve_threads(threads);
    for (const TensorSpec& spec : expected_tensors(c)) {
        if (spec.shape.end() != std::find(spec.shape.begin(), spec.shape.end(), 0)) continue;
        w.add(spec.name, dtype, spec.shape, [&c, seed, spec, dtype, per_tensor_threads](std::span<std::byte> bytes) {
            fill_synthetic_tensor(c, seed, spec, dtype, bytes, per_tensor_threads);
        });
    }
    // Regenerable from (preset, seed): skip the fsync, which costs more than generating the values.
    w.write(out, SafetensorsWriter::Sync::NoSync);
}

}  // namespace rwkvb
