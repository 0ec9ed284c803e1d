// Layout and detection: the fixtures made by the official code, synthetic files of every preset
// family, every released shape (shapes only, no data), and broken checkpoints.
#include "errors.hpp"
#include "fixtures.hpp"
#include "model_config.hpp"
#include "presets.hpp"
#include "safetensors.hpp"
#include "synth.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace rwkvb {
namespace {

namespace fs = std::filesystem;

// Shapes-only tensor list of a config (data pointers stay null: detection reads shapes only).
std::vector<TensorView> views_of(const ModelConfig& c, DType dtype = DType::BF16) {
    std::vector<TensorView> out;
    for (const TensorSpec& s : expected_tensors(c)) {
        TensorView v;
        v.name = s.name;
        v.dtype = dtype;
        v.shape = s.shape;
        v.nbytes = uint64_t(v.numel()) * dtype_size(dtype);
        out.push_back(std::move(v));
    }
    return out;
}

bool same_config(const ModelConfig& a, const ModelConfig& b) {
    return a.version == b.version && a.subversion == b.subversion && a.n_layer == b.n_layer &&
           a.n_embd == b.n_embd && a.dim_att == b.dim_att && a.dim_ffn == b.dim_ffn && a.n_head == b.n_head &&
           a.head_size == b.head_size && a.vocab_size == b.vocab_size && a.lora_maa == b.lora_maa &&
           a.lora_decay == b.lora_decay && a.lora_iclr == b.lora_iclr && a.lora_value == b.lora_value &&
           a.lora_gate == b.lora_gate;
}

bool is_block0_value_lora(const std::string& name) {
    return name == "blocks.0.att.v0" || name == "blocks.0.att.v1" || name == "blocks.0.att.v2";
}

// The error of detect_config on `views`, or "" if it passed.
std::string detect_error(const std::vector<TensorView>& views) {
    try {
        detect_config(views, "broken.safetensors");
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

TEST(ModelConfig, DetectsEveryFixtureAsFixturesJsonSays) {
    const auto& cases = test::fixture_cases();  // throws (the test fails) without the fixtures
    ASSERT_EQ(cases.size(), 12u);
    for (const auto& fc : cases) {
        SCOPED_TRACE(fc.name);
        const nlohmann::json& cs = fc.entry;
        const auto file = SafetensorsFile::open(fc.model);
        const ModelConfig c = detect_config(file);
        EXPECT_EQ(std::to_string(c.version), cs.at("rwkv_version").get<std::string>());
        if (c.version == 5) {
            EXPECT_EQ(c.subversion, 2) << "fixtures are x052";
        }
        EXPECT_EQ(c.n_layer, cs.at("n_layer").get<int>());
        EXPECT_EQ(c.n_embd, cs.at("n_embd").get<int>());
        EXPECT_EQ(c.dim_att, cs.at("n_embd").get<int>());
        EXPECT_EQ(c.vocab_size, cs.at("vocab_size").get<int>());
        EXPECT_EQ(c.dim_ffn, cs.at("ffn_dim").get<int>());
        if (c.version >= 5) {
            EXPECT_EQ(c.head_size, cs.at("head_size").get<int>());
            EXPECT_EQ(c.n_head, cs.at("n_head").get<int>());
        }
        if (c.version == 6) {
            EXPECT_EQ(c.lora_maa, cs.at("lora_dims").at("time_maa").get<int>());
            EXPECT_EQ(c.lora_decay, cs.at("lora_dims").at("time_decay").get<int>());
        }
        if (c.version == 7) {
            EXPECT_EQ(c.lora_decay, cs.at("lora_dims").at("w").get<int>());
            EXPECT_EQ(c.lora_iclr, cs.at("lora_dims").at("a").get<int>());
            EXPECT_EQ(c.lora_value, cs.at("lora_dims").at("v").get<int>());
            EXPECT_EQ(c.lora_gate, cs.at("lora_dims").at("g").get<int>());
        }
        // Parameter count of the cost model = every stored tensor of the fixture.
        EXPECT_EQ(model_cost(c).params, cs.at("n_params").get<uint64_t>());
    }
}

TEST(ModelConfig, ExpectedTensorsFollowTheFixturesStateDictOrder) {
    for (const char* dir : {"rwkv4-small", "rwkv5-small", "rwkv6-small", "rwkv7-small"}) {
        SCOPED_TRACE(dir);
        const auto file = SafetensorsFile::open(test::fixture_case(dir).model);
        const ModelConfig c = detect_config(file);
        std::vector<TensorSpec> expected = expected_tensors(c);
        ASSERT_EQ(expected.size(), file.tensors().size());
        for (size_t i = 0; i < expected.size(); ++i) {
            EXPECT_EQ(file.tensors()[i].name, expected[i].name) << "position " << i;
            EXPECT_EQ(file.tensors()[i].shape, expected[i].shape) << expected[i].name;
        }
    }
}

TEST(ModelConfig, DetectsEveryPresetFromShapesAlone) {
    for (const Preset& p : presets()) {
        SCOPED_TRACE(p.name);
        const ModelConfig c = detect_config(views_of(p.config), p.name);
        EXPECT_TRUE(same_config(c, p.config)) << describe(c) << " vs " << describe(p.config);
    }
}

TEST(ModelConfig, DetectsSyntheticFilesOfEveryFamily) {
    const fs::path dir = fs::temp_directory_path() / ("rwkvb_models_detect_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    for (const char* name : {"rwkv4-tiny", "rwkv5.0-tiny", "rwkv5.1-tiny", "rwkv5-tiny", "rwkv6-tiny", "rwkv7-tiny"}) {
        SCOPED_TRACE(name);
        const Preset* p = find_preset(name);
        ASSERT_NE(p, nullptr);
        const fs::path path = dir / (std::string(name) + ".safetensors");
        write_synthetic_model(p->config, 7, DType::F16, path, name);
        const auto file = SafetensorsFile::open(path);
        EXPECT_TRUE(same_config(detect_config(file), p->config));
        EXPECT_EQ(file.metadata().at("generator"), kSynthGenerator);
        EXPECT_EQ(file.metadata().at("preset"), name);
        EXPECT_EQ(file.metadata().at("rwkv_version"), version_string(p->config));
    }
    fs::remove_all(dir);
}

TEST(ModelConfig, AcceptsOptionalAndSqueezedForms) {
    // v7 without block-0 v0/v1/v2 (some released files).
    ModelConfig c7 = find_preset("rwkv7-tiny")->config;
    auto v = views_of(c7);
    std::erase_if(v, [](const TensorView& t) { return is_block0_value_lora(t.name); });
    EXPECT_TRUE(same_config(detect_config(v, "x"), c7));
    // v7 with one block and no v1 anywhere: Dv is 0.
    ModelConfig one = c7;
    one.n_layer = 1;
    v = views_of(one);
    std::erase_if(v, [](const TensorView& t) { return is_block0_value_lora(t.name); });
    EXPECT_EQ(detect_config(v, "x").lora_value, 0);
    // v4 time_decay stored [1,1,A] instead of [A]; mixes stored [D].
    const ModelConfig c4 = find_preset("rwkv4-tiny")->config;
    v = views_of(c4);
    for (TensorView& t : v) {
        if (t.name.ends_with("time_decay")) t.shape = {1, 1, 128};
        if (t.name.ends_with("time_mix_k")) t.shape = {128};
    }
    EXPECT_TRUE(same_config(detect_config(v, "x"), c4));
    // v5.0 with time_faaaa instead of time_first.
    const ModelConfig c50 = find_preset("rwkv5.0-tiny")->config;
    v = views_of(c50);
    for (TensorView& t : v)
        if (t.name.ends_with("time_first")) t.name.replace(t.name.size() - 10, 10, "time_faaaa");
    EXPECT_TRUE(same_config(detect_config(v, "x"), c50));
}

// A state-tuned v6 file's initial state would be ignored by every backend (wrong logits that
// still pass parity against the reference, which ignores it too): refused in one line.
TEST(ModelConfig, RefusesStateTunedV6Checkpoints) {
    const ModelConfig c6 = find_preset("rwkv6-tiny")->config;
    auto v = views_of(c6);
    v.push_back(TensorView{"blocks.0.att.time_state", DType::F32, {2, 64, 64}, nullptr, 0});
    v.push_back(TensorView{"blocks.1.att.time_state", DType::F32, {2, 64, 64}, nullptr, 0});
    EXPECT_EQ(detect_error(v), "broken.safetensors: tensor 'blocks.0.att.time_state': state-tuned RWKV-6 "
                               "checkpoints are not supported (their initial state would be ignored)");
    // The synthesiser never writes one: every expected tensor is a standard one.
    for (const TensorSpec& s : expected_tensors(c6)) EXPECT_FALSE(s.name.ends_with("time_state")) << s.name;
}

TEST(ModelConfig, BrokenCheckpointsGiveOneLineNamingTheTensor) {
    const ModelConfig c7 = find_preset("rwkv7-tiny")->config;
    auto expect_error = [](const std::vector<TensorView>& v, std::vector<std::string> parts) {
        const std::string e = detect_error(v);
        ASSERT_FALSE(e.empty()) << "accepted a broken checkpoint";
        EXPECT_EQ(e.find('\n'), std::string::npos) << e;
        EXPECT_TRUE(e.starts_with("broken.safetensors: ")) << e;
        for (const auto& p : parts) EXPECT_NE(e.find(p), std::string::npos) << "'" << p << "' not in: " << e;
    };
    // Missing tensor.
    auto v = views_of(c7);
    std::erase_if(v, [](const TensorView& t) { return t.name == "blocks.1.att.k_a"; });
    expect_error(v, {"missing tensor 'blocks.1.att.k_a'", "[1, 1, 128]"});
    // Missing head.
    v = views_of(find_preset("rwkv4-tiny")->config);
    std::erase_if(v, [](const TensorView& t) { return t.name == "head.weight"; });
    expect_error(v, {"'head.weight'", "[512, 128]"});
    // Wrong shape: expected vs actual.
    v = views_of(c7);
    for (TensorView& t : v)
        if (t.name == "blocks.1.ffn.value.weight") t.shape = {128, 500};
    expect_error(v, {"'blocks.1.ffn.value.weight'", "[128, 500]", "expected [128, 512]"});
    // A matrix may not be squeezed or transposed.
    v = views_of(find_preset("rwkv6-tiny")->config);
    for (TensorView& t : v)
        if (t.name == "blocks.0.att.time_decay_w2") t.shape = {128, 64};
    expect_error(v, {"'blocks.0.att.time_decay_w2'", "[128, 64]", "expected [64, 128]"});
    // Non-float dtype.
    v = views_of(c7);
    for (TensorView& t : v)
        if (t.name == "blocks.0.att.w0") t.dtype = DType::I32;
    expect_error(v, {"'blocks.0.att.w0'", "I32", "float"});
    // Unknown layout: no emb, no blocks, unknown markers.
    v = views_of(c7);
    std::erase_if(v, [](const TensorView& t) { return t.name == "emb.weight"; });
    expect_error(v, {"unknown layout", "emb.weight"});
    expect_error({TensorView{"emb.weight", DType::F32, {10, 4}, nullptr, 0}}, {"unknown layout", "blocks"});
    expect_error({TensorView{"emb.weight", DType::F32, {10, 4}, nullptr, 0},
                  TensorView{"blocks.0.foo", DType::F32, {4}, nullptr, 0}},
                 {"unknown layout"});
    expect_error({TensorView{"model.embeddings.weight", DType::F32, {10, 4}, nullptr, 0}},
                 {"unknown layout", "Hugging Face"});
    // A gap in the blocks, and a tensor of an unsupported variant.
    v = views_of(c7);
    v.push_back(TensorView{"blocks.3.ln1.weight", DType::F32, {128}, nullptr, 0});
    expect_error(v, {"missing tensor 'blocks.2."});
    v = views_of(c7);
    v.push_back(TensorView{"blocks.2000000000.ln1.weight", DType::F32, {128}, nullptr, 0});
    expect_error(v, {"'blocks.2000000000.ln1.weight'", "block 2 has no tensors"});
    v = views_of(c7);
    v.push_back(TensorView{"blocks.0.ffn.s_emb.weight", DType::F32, {512, 32}, nullptr, 0});
    expect_error(v, {"unexpected tensor 'blocks.0.ffn.s_emb.weight'"});
    // v6 LoRA width not a multiple of 5.
    v = views_of(find_preset("rwkv6-tiny")->config);
    for (TensorView& t : v)
        if (t.name == "blocks.0.att.time_maa_w1") t.shape = {128, 161};
    expect_error(v, {"'blocks.0.att.time_maa_w1'", "multiple of 5"});
    // Heads that do not divide A (v5 per-channel decay disagreeing with the key).
    v = views_of(find_preset("rwkv5-tiny")->config);
    for (TensorView& t : v)
        if (t.name == "blocks.0.att.time_decay") t.shape = {3, 64};
    expect_error(v, {"H×N"});
}

TEST(ModelConfig, DescribeAndVersionString) {
    EXPECT_EQ(describe(find_preset("rwkv7-0.1b")->config), "v7 L12 D768 H12×64 F3072 V65536 (Dw64 Da64 Dv32 Dg128)");
    EXPECT_EQ(describe(find_preset("rwkv4-169m")->config), "v4 L12 D768 F3072 V50277");
    EXPECT_EQ(describe(find_preset("rwkv6-7b")->config), "v6 L32 D4096 H64×64 F14336 V65536 (Dm64 Dd128)");
    EXPECT_EQ(version_string(find_preset("rwkv5-7b")->config), "5.2");
    EXPECT_EQ(version_string(find_preset("rwkv5.1-tiny")->config), "5.1");
    EXPECT_EQ(version_string(find_preset("rwkv4-tiny")->config), "4");
}

}  // namespace
}  // namespace rwkvb
