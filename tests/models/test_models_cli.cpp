// The real CLI: `rwkvbench models` and `rwkvbench synth`, run as child processes.
#include "model_config.hpp"
#include "presets.hpp"
#include "run_cli.hpp"
#include "safetensors.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace rwkvb {
namespace {

namespace fs = std::filesystem;

TEST(ModelsCli, JsonListsEveryPresetWithCosts) {
    const test::CliResult o = test::run_cli({"models", "--format", "json"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    const auto doc = nlohmann::json::parse(o.out);
    std::set<std::string> listed;
    for (const auto& p : doc.at("presets")) {
        const std::string name = p.at("name");
        listed.insert(name);
        const Preset* preset = find_preset(name);
        ASSERT_NE(preset, nullptr) << name;
        const ModelCost m = model_cost(preset->config);
        EXPECT_EQ(p.at("params").get<uint64_t>(), m.params) << name;
        EXPECT_EQ(p.at("n_layer").get<int>(), preset->config.n_layer);
        EXPECT_EQ(p.at("weight_bytes").at("bf16").get<uint64_t>(), 2 * m.params);
        EXPECT_GT(p.at("weight_bytes").at("int8").get<uint64_t>(), m.params);
        EXPECT_EQ(p.at("state_bytes_per_stream_f32").get<uint64_t>(), 4 * m.state_floats);
        EXPECT_DOUBLE_EQ(p.at("flops_per_token").get<double>(), m.flops_per_token);
        EXPECT_DOUBLE_EQ(p.at("weight_bytes_per_token").at("f16").get<double>(), m.weight_bytes_per_token(DType::F16));
    }
    EXPECT_EQ(listed.size(), presets().size());
}

TEST(ModelsCli, TableHasOneRowPerPreset) {
    const test::CliResult o = test::run_cli({"models"});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    for (const Preset& p : presets()) EXPECT_NE(o.out.find(p.name), std::string::npos) << p.name;
    EXPECT_NE(o.out.find("169.3M"), std::string::npos);
    EXPECT_EQ(test::run_cli({"models", "--format", "xml"}).exit_code, 2);
}

TEST(ModelsCli, SynthWritesADetectableFile) {
    const fs::path out = fs::temp_directory_path() / ("rwkvb_cli_synth_" + std::to_string(::getpid()) + ".safetensors");
    // The preset may also be given positionally.
    const test::CliResult o = test::run_cli({"synth", "rwkv6-tiny", "--seed", "3", "--dtype", "bf16", "-o", out.string()});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    EXPECT_NE(o.err.find("GB/s"), std::string::npos) << o.err;
    {
        const auto f = SafetensorsFile::open(out);
        const ModelConfig c = detect_config(f);
        EXPECT_EQ(describe(c), describe(find_preset("rwkv6-tiny")->config));
        EXPECT_EQ(f.metadata().at("seed"), "3");
        EXPECT_EQ(f.tensors().front().dtype, DType::BF16);
    }
    fs::remove(out);
}

TEST(ModelsCli, SynthBadInputExitsTwoWithOneLine) {
    const std::string out = (fs::temp_directory_path() / "rwkvb_never_written.safetensors").string();
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"synth", "--preset", "rwkv7-1.5", "-o", out},
          std::vector<std::string>{"synth", "--preset", "rwkv7-tiny", "--dtype", "int8", "-o", out},
          std::vector<std::string>{"synth", "--preset", "rwkv7-tiny", "-o", "/nonexistent-dir/x.safetensors"}}) {
        const test::CliResult o = test::run_cli(args);
        EXPECT_EQ(o.exit_code, 2) << args[2] << ": " << o.err;
        // One error line (the progress line may precede an I/O error).
        const auto lines = std::count(o.err.begin(), o.err.end(), '\n');
        EXPECT_GE(lines, 1);
        EXPECT_LE(lines, 2) << o.err;
        EXPECT_NE(o.err.find("error"), std::string::npos) << o.err;
    }
    // An I/O error names the -o path, not the temporary file written beside it.
    const test::CliResult io = test::run_cli({"synth", "rwkv7-tiny", "-o", "/nonexistent-dir/x.safetensors"});
    EXPECT_NE(io.err.find("/nonexistent-dir/x.safetensors: cannot create"), std::string::npos) << io.err;
    EXPECT_EQ(io.err.find(".tmp"), std::string::npos) << io.err;
    const test::CliResult o = test::run_cli({"synth", "--preset", "rwkv7-1.5", "-o", out});
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_NE(o.err.find("unknown preset 'rwkv7-1.5'"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("rwkv7-1.5b"), std::string::npos) << "should suggest the close name: " << o.err;
    EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace rwkvb
