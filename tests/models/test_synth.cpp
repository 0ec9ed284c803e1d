// Synthetic weights: pinned bytes per family, independence from thread count, dtype
// conversions, and values in the ranges of the official initialisation.
#include "errors.hpp"
#include "fixtures.hpp"
#include "model_config.hpp"
#include "presets.hpp"
#include "safetensors.hpp"
#include "synth.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <unistd.h>

namespace rwkvb {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("rwkvb_synth_test_" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() { fs::remove_all(path); }
};

const ModelConfig& cfg(const char* name) {
    const Preset* p = find_preset(name);
    if (!p) throw std::runtime_error(std::string("no preset ") + name);
    return p->config;
}

uint64_t fnv(uint64_t h, const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

// FNV-1a 64 of every tensor's name and bytes in file order (the header layout is the writer's
// business; the values are ours).
uint64_t tensor_hash(const fs::path& path) {
    const auto f = SafetensorsFile::open(path);
    uint64_t h = 0xCBF29CE484222325ull;
    for (const TensorView& t : f.tensors()) {
        h = fnv(h, t.name.data(), t.name.size());
        h = fnv(h, t.data, t.nbytes);
    }
    return h;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Values of one tensor as float (via the F32 filler).
std::vector<float> values(const ModelConfig& c, const std::string& name, uint64_t seed = 1, unsigned threads = 1) {
    for (const TensorSpec& s : expected_tensors(c)) {
        if (s.name != name) continue;
        int64_t n = 1;
        for (int64_t d : s.shape) n *= d;
        std::vector<float> v(static_cast<size_t>(n));
        fill_synthetic_tensor(c, seed, s, DType::F32, std::as_writable_bytes(std::span(v)), threads);
        return v;
    }
    throw std::runtime_error("no tensor " + name);
}

struct Stats {
    double mean = 0, std = 0, min = 1e300, max = -1e300;
};
Stats stats(const std::vector<float>& v) {
    Stats s;
    for (float x : v) {
        s.mean += x;
        s.min = std::min(s.min, double(x));
        s.max = std::max(s.max, double(x));
    }
    s.mean /= double(v.size());
    for (float x : v) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(v.size()));
    return s;
}

// Pinned: any change to these bytes must bump kSynthGenerator (cached golden logits are keyed
// by a hash of the weights, and results quote the generator).
TEST(Synth, PinnedBytesPerFamily) {
    TempDir dir;
    const std::map<std::string, uint64_t> pinned = {
        {"rwkv4-tiny", 0xee2ef53580107761},   {"rwkv5.0-tiny", 0x8198c0e1f923933c},
        {"rwkv5.1-tiny", 0xd7d5f92a8d345a3b}, {"rwkv5-tiny", 0x227788fb3c86b4f4},
        {"rwkv6-tiny", 0xf8760e01a5cceb59},   {"rwkv7-tiny", 0x9b70cce45c0e1ec1},
    };
    for (const auto& [name, hash] : pinned) {
        const fs::path p = dir.path / (name + ".safetensors");
        write_synthetic_model(cfg(name.c_str()), 42, DType::F32, p, name);
        EXPECT_EQ(tensor_hash(p), hash) << name << ": 0x" << std::hex << tensor_hash(p);
    }
}

TEST(Synth, SameBytesForAnyThreadCountAndSeedMatters) {
    TempDir dir;
    const ModelConfig& c = cfg("rwkv7-small");  // head and emb are split into chunks
    write_synthetic_model(c, 5, DType::BF16, dir.path / "a", "rwkv7-small", 1);
    write_synthetic_model(c, 5, DType::BF16, dir.path / "b", "rwkv7-small", 7);
    write_synthetic_model(c, 6, DType::BF16, dir.path / "c", "rwkv7-small", 3);
    const std::string a = read_all(dir.path / "a");
    EXPECT_EQ(a, read_all(dir.path / "b"));
    EXPECT_NE(a, read_all(dir.path / "c"));
    // A bigger tensor through the filler directly, with many uneven splits.
    ModelConfig wide = cfg("rwkv7-tiny");
    wide.vocab_size = 65536;
    const auto one = values(wide, "emb.weight", 9, 1);
    for (unsigned t : {2u, 3u, 8u}) EXPECT_TRUE(one == values(wide, "emb.weight", 9, t)) << t << " threads";
    // Different tensors of the same shape differ.
    EXPECT_NE(values(c, "blocks.0.att.key.weight"), values(c, "blocks.0.att.value.weight"));
}

TEST(Synth, DtypesAreRoundingsOfTheSameValues) {
    TempDir dir;
    const ModelConfig& c = cfg("rwkv6-tiny");
    for (DType t : {DType::F32, DType::F64, DType::F16, DType::BF16})
        write_synthetic_model(c, 3, t, dir.path / std::string(dtype_name(t)), "rwkv6-tiny");
    const auto f32 = SafetensorsFile::open(dir.path / "F32");
    for (DType t : {DType::F64, DType::F16, DType::BF16}) {
        const auto other = SafetensorsFile::open(dir.path / std::string(dtype_name(t)));
        ASSERT_EQ(other.tensors().size(), f32.tensors().size());
        for (size_t i = 0; i < f32.tensors().size(); ++i) {
            const TensorView& a = f32.tensors()[i];
            const TensorView& b = other.tensors()[i];
            ASSERT_EQ(b.dtype, t);
            for (int64_t j = 0; j < a.numel(); ++j) {
                float x;
                std::memcpy(&x, a.data + 4 * j, 4);
                const double expect = t == DType::F64 ? double(x)
                                      : t == DType::F16 ? double(f16_to_f32(f32_to_f16(x)))
                                                        : double(bf16_to_f32(f32_to_bf16(x)));
                ASSERT_EQ(load_as_double(t, b.data, size_t(j)), expect) << a.name << "[" << j << "]";
            }
        }
    }
    EXPECT_THROW(write_synthetic_model(c, 3, DType::I8, dir.path / "i8"), InputError);
}

TEST(Synth, MixAndLerpWeightsStayInUnitInterval) {
    for (const char* preset : {"rwkv4-small", "rwkv5-small", "rwkv6-small", "rwkv7-small", "rwkv5.1-tiny"}) {
        const ModelConfig& c = cfg(preset);
        int checked = 0;
        for (const TensorSpec& s : expected_tensors(c)) {
            const bool is_mix = s.name.find("time_mix_") != std::string::npos ||
                                (s.name.find("time_maa_") != std::string::npos && s.role == TensorRole::Vector) ||
                                s.name.find(".x_") != std::string::npos;
            if (!is_mix) continue;
            const Stats st = stats(values(c, s.name));
            EXPECT_GE(st.min, 0.0) << s.name;
            EXPECT_LE(st.max, 1.0) << s.name;
            EXPECT_GT(st.max - st.min, 0.3) << s.name << " should ramp across channels";
            ++checked;
        }
        EXPECT_GE(checked, 5 * c.n_layer) << preset;
    }
}

TEST(Synth, DecayAndBonusInOfficialRanges) {
    // v4: factor exp(-exp(d)) spans ~0 .. ~0.99 over each model; bonus u around log(0.3).
    {
        const ModelConfig& c = cfg("rwkv4-small");
        double lo = 1, hi = 0;
        for (int l = 0; l < c.n_layer; ++l)
            for (float d : values(c, "blocks." + std::to_string(l) + ".att.time_decay")) {
                const double w = std::exp(-std::exp(double(d)));
                lo = std::min(lo, w);
                hi = std::max(hi, w);
            }
        EXPECT_LT(lo, 1e-3);
        EXPECT_GT(hi, 0.99);
        EXPECT_LT(hi, 1.0);
        const Stats u = stats(values(c, "blocks.1.att.time_first"));
        EXPECT_NEAR(u.mean, std::log(0.3), 0.1);
    }
    // v5.2 and v6: d in about [-7, 0] (factor 0.999 .. 0.4), later blocks decay slower on average.
    for (const char* preset : {"rwkv5-small", "rwkv6-small"}) {
        const ModelConfig& c = cfg(preset);
        const Stats first = stats(values(c, "blocks.0.att.time_decay"));
        const Stats last = stats(values(c, "blocks.2.att.time_decay"));
        EXPECT_GT(first.min, -7.1) << preset;
        EXPECT_LT(first.max, 0.0) << preset;
        EXPECT_LT(last.mean, first.mean) << preset;
        const Stats u = stats(values(c, "blocks.2.att.time_faaaa"));
        EXPECT_GT(u.min, -1.0);
        EXPECT_LT(u.max, 2.0);
    }
    // v6 decay LoRA is small: |tanh(.)·w2| summed over Dd stays well under the bias spread.
    {
        const Stats w2 = stats(values(cfg("rwkv6-small"), "blocks.1.att.time_decay_w2"));
        EXPECT_LE(w2.max, 0.08);
        EXPECT_GE(w2.min, -0.08);
    }
    // v7: w0 spreads over the sigmoid's range; k_k, k_a, r_k, a0, v0 near their official constants.
    {
        const ModelConfig& c = cfg("rwkv7-small");
        const Stats w0 = stats(values(c, "blocks.1.att.w0"));
        EXPECT_LT(w0.min, -5.0);
        EXPECT_GT(w0.max, 1.5);
        EXPECT_NEAR(stats(values(c, "blocks.1.att.k_k")).mean, 0.71, 0.03);
        EXPECT_NEAR(stats(values(c, "blocks.1.att.k_a")).mean, 1.02, 0.03);
        EXPECT_NEAR(stats(values(c, "blocks.1.att.r_k")).mean, -0.04, 0.03);
        EXPECT_NEAR(stats(values(c, "blocks.1.att.a0")).mean, -0.19, 0.05);
        EXPECT_NEAR(stats(values(c, "blocks.1.att.v0")).mean, 0.73, 0.03);
    }
}

TEST(Synth, MatricesAndNormsAtIntendedScale) {
    const ModelConfig& c = cfg("rwkv7-small");  // D = 256, F = 1024
    auto expect_std = [&](const std::string& name, double want) {
        const Stats s = stats(values(c, name));
        EXPECT_NEAR(s.std, want, 0.03 * want) << name;
        EXPECT_NEAR(s.mean, 0.0, 0.05 * want) << name;
        EXPECT_LE(s.max, want * std::sqrt(3.0)) << name << " is uniform";
    };
    expect_std("emb.weight", 0.5);
    expect_std("head.weight", 2.5 / 16);
    expect_std("blocks.0.att.receptance.weight", 1.0 / 16);
    expect_std("blocks.0.att.key.weight", 0.5 / 16);
    expect_std("blocks.2.att.output.weight", 0.5 / 16);
    expect_std("blocks.1.ffn.value.weight", 0.5 / 32);
    expect_std("blocks.1.att.g1", 0.7 / 16);
    const Stats ln = stats(values(c, "blocks.2.ln1.weight"));
    EXPECT_NEAR(ln.mean, 1.0, 0.03);
    EXPECT_GT(ln.min, 0.8);
    EXPECT_NEAR(stats(values(c, "ln_out.bias")).mean, 0.0, 0.02);
}

// Close to the fixtures made by the official initialisation: matrices within 10% of the
// fixture's standard deviation, vectors within a few tenths of its mean.
TEST(Synth, ResemblesTheGoldenFixtures) {
    for (const char* name : {"rwkv4-tiny", "rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny"}) {
        const auto f = SafetensorsFile::open(test::fixture_case(name).model);
        const ModelConfig& c = cfg(name);
        for (const TensorSpec& s : expected_tensors(c)) {
            const TensorView& t = f.at(s.name);
            std::vector<float> fx(size_t(t.numel()));
            for (size_t i = 0; i < fx.size(); ++i) fx[i] = float(load_as_double(t.dtype, t.data, i));
            const Stats want = stats(fx), got = stats(values(c, s.name));
            if (s.role == TensorRole::Vector) {
                EXPECT_NEAR(got.mean, want.mean, 0.25) << name << " " << s.name;
            } else {
                EXPECT_NEAR(got.std / want.std, 1.0, 0.1) << name << " " << s.name;
            }
        }
    }
}

}  // namespace
}  // namespace rwkvb
