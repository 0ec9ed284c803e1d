// Cells and plans: JSON round trips, ids, backend selectors and plan resolution against the
// test-only fake plugins (passed as --plugin would pass them).
#include "run/cell.hpp"
#include "errors.hpp"
#include "run/plan.hpp"
#include "presets.hpp"
#include "safetensors.hpp"
#include "synth.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace rwkvb;

namespace {

fs::path fault_plugin(const std::string& name) { return fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so"); }

RunOptions options_with(std::vector<std::string> backends, std::vector<std::string> plugins) {
    RunOptions o;
    o.backends = std::move(backends);
    for (const auto& p : plugins) o.plugins.push_back(fault_plugin(p));
    o.workloads = {"rwkv7-tiny"};
    o.scenarios = {"decode", "parity"};
    o.discovery.executable = RWKVB_BINARY;  // plugins are described by `rwkvbench probe`, not by this binary
    return o;
}

bool has_cell(const Plan& plan, const std::string& id) {
    return std::any_of(plan.cells.begin(), plan.cells.end(), [&](const PlannedCell& c) { return c.spec.id() == id; });
}

}  // namespace

TEST(CellSpec, JsonRoundTripKeepsEveryField) {
    CellSpec c;
    c.backend = "opencl";
    c.plugin_path = "/x/librwkvb_opencl.so";
    c.device = 1;
    c.workload = "rwkv7-0.1b";
    c.model_path = "/cache/models/rwkv7-0.1b-s7.safetensors";
    c.scenario = Scenario::batch;
    c.dtype = "f16";
    c.seed = 7;
    c.threads = 2;
    c.timeout_s = 12.5;
    c.plugin_options = "threads=2,foo=bar";
    c.params = {11, 12, 13, 14, 15, 16, 17, 18, 0.25};
    c.parity_thresholds = {{"max_rel_l2", 1e-3}};
    const nlohmann::json j = c;
    const CellSpec back = nlohmann::json::parse(j.dump()).get<CellSpec>();
    EXPECT_EQ(nlohmann::json(back), j);
    EXPECT_EQ(back.params.long_samples, 15);
    EXPECT_DOUBLE_EQ(back.params.min_time_s, 0.25);
    EXPECT_EQ(back.id(), "opencl.1.rwkv7-0_1b.batch.f16");
}

TEST(CellSpec, MissingFieldsKeepDefaults) {
    const CellSpec c = nlohmann::json{{"backend", "reference"}, {"params", {{"batch", 3}}}}.get<CellSpec>();
    const CellSpec d;
    EXPECT_EQ(c.backend, "reference");
    EXPECT_EQ(c.dtype, d.dtype);
    EXPECT_EQ(c.timeout_s, d.timeout_s);
    EXPECT_EQ(c.params.batch, 3);
    EXPECT_EQ(c.params.prompt_tokens, d.params.prompt_tokens);
    EXPECT_THROW(nlohmann::json::array().get<CellSpec>(), nlohmann::json::exception);
}

TEST(CellSpec, IdIsOneSafeFileName) {
    CellSpec c;
    c.backend = "we/ird";
    c.workload = "../my model.v2";
    c.scenario = Scenario::decode;
    const std::string id = c.id();
    EXPECT_EQ(id.find('/'), std::string::npos);
    EXPECT_EQ(id.find(' '), std::string::npos);
    EXPECT_EQ(id, "we_ird.0.___my_model_v2.decode.f32");
}

TEST(Plan, BackendSelectors) {
    EXPECT_EQ(parse_backend_selector("reference").name, "reference");
    EXPECT_FALSE(parse_backend_selector("reference").device);
    const auto s = parse_backend_selector("opencl:1");
    EXPECT_EQ(s.name, "opencl");
    ASSERT_TRUE(s.device);
    EXPECT_EQ(*s.device, 1);
    EXPECT_THROW(parse_backend_selector("opencl:"), InputError);
    EXPECT_THROW(parse_backend_selector("opencl:x"), InputError);
    EXPECT_THROW(parse_backend_selector("opencl:-1"), InputError);
    EXPECT_THROW(parse_backend_selector(":1"), InputError);
}

TEST(Plan, NamedBackendsDevicesAndCrossProduct) {
    const auto dir = fs::temp_directory_path() / "rwkvb_plan_models";
    const Plan plan = make_plan(options_with({"noop:0", "fault_wronglogits"}, {"noop", "fault_wronglogits"}), dir);
    ASSERT_EQ(plan.cells.size(), 4u);
    EXPECT_TRUE(has_cell(plan, "noop.0.rwkv7-tiny.decode.f32"));
    EXPECT_TRUE(has_cell(plan, "fault_wronglogits.0.rwkv7-tiny.parity.f32"));
    EXPECT_EQ(plan.cells[0].spec.model_path, synthetic_model_path(dir, "rwkv7-tiny", 1));
    EXPECT_EQ(plan.cells[0].spec.plugin_path.filename(), "librwkvb_noop.so");
    ASSERT_EQ(plan.models.size(), 1u);
    EXPECT_EQ(plan.models[0].preset, "rwkv7-tiny");
}

TEST(Plan, DeviceOutOfRangeAndUnknownBackendAreInputErrors) {
    const auto dir = fs::temp_directory_path();
    EXPECT_THROW(make_plan(options_with({"noop:1"}, {"noop"}), dir), InputError);
    try {
        make_plan(options_with({"nosuchbackend"}, {"noop"}), dir);
        FAIL() << "expected InputError";
    } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("unknown backend 'nosuchbackend'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("noop"), std::string::npos) << msg;  // lists what is available
    }
}

TEST(Plan, UnknownPresetScenarioDtypeAreInputErrors) {
    const auto dir = fs::temp_directory_path();
    auto o = options_with({"noop"}, {"noop"});
    o.workloads = {"rwkv99-huge"};
    EXPECT_THROW(make_plan(o, dir), InputError);
    o = options_with({"noop"}, {"noop"});
    o.scenarios = {"sprint"};
    EXPECT_THROW(make_plan(o, dir), InputError);
    o = options_with({"noop"}, {"noop"});
    o.dtypes = {"f12"};
    EXPECT_THROW(make_plan(o, dir), InputError);
    o = options_with({"noop"}, {"noop"});
    o.workloads.clear();
    o.models = {"/nonexistent/model.safetensors"};
    EXPECT_THROW(make_plan(o, dir), InputError);
}

// A malformed checkpoint is refused while planning (exit 2), naming the file — not discovered
// as a load-error in every cell.
TEST(Plan, MalformedModelIsAnInputErrorNamingTheFile) {
    const auto bad = fs::temp_directory_path() / ("rwkvb_plan_bad_" + std::to_string(::getpid()) + ".safetensors");
    { std::ofstream(bad) << "this is not a safetensors file"; }
    auto o = options_with({"noop"}, {"noop"});
    o.workloads.clear();
    o.models = {bad};
    try {
        make_plan(o, fs::temp_directory_path());
        ADD_FAILURE() << "expected InputError";
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    fs::remove(bad);
}

// The fixtures are all named model.safetensors: two of them must stay two workloads.
TEST(Plan, CheckpointsWithTheSameNameKeepDistinctCells) {
    const fs::path a = fs::path(RWKVB_FIXTURES_DIR) / "rwkv7-tiny" / "model.safetensors";
    const fs::path b = fs::path(RWKVB_FIXTURES_DIR) / "rwkv4-tiny" / "model.safetensors";
    auto o = options_with({"noop"}, {"noop"});
    o.workloads.clear();
    o.models = {a, b, a};  // the same file twice is one workload
    o.scenarios = {"decode"};
    const Plan plan = make_plan(o, fs::temp_directory_path());
    ASSERT_EQ(plan.cells.size(), 2u);
    EXPECT_NE(plan.cells[0].spec.id(), plan.cells[1].spec.id());
    EXPECT_EQ(plan.cells[0].spec.model_path, fs::canonical(a));
    EXPECT_EQ(plan.cells[1].spec.model_path, fs::canonical(b));
    EXPECT_EQ(plan.cells[0].spec.workload.rfind("model-", 0), 0u) << plan.cells[0].spec.workload;
    // A single checkpoint keeps its plain name.
    o.models = {a};
    EXPECT_EQ(make_plan(o, fs::temp_directory_path()).cells[0].spec.workload, "model");
}

TEST(Plan, DtypeTheDeviceDoesNotOfferIsSkippedWithANote) {
    auto o = options_with({"noop"}, {"noop"});
    o.scenarios = {"decode"};
    o.dtypes = {"f32", "f16"};
    const Plan plan = make_plan(o, fs::temp_directory_path());
    ASSERT_EQ(plan.cells.size(), 2u);
    EXPECT_TRUE(plan.cells[0].skip_reason.empty());
    EXPECT_NE(plan.cells[1].skip_reason.find("does not offer f16"), std::string::npos) << plan.cells[1].skip_reason;
}

TEST(Plan, AllTakesLoadablePluginsWithDevicesAndNotesBrokenOnes) {
    const Plan plan =
        make_plan(options_with({"all"}, {"noop", "fault_abi", "fault_devcount", "fault_null"}), fs::temp_directory_path());
    EXPECT_TRUE(has_cell(plan, "noop.0.rwkv7-tiny.decode.f32"));
    for (const auto& c : plan.cells) {
        EXPECT_NE(c.spec.backend, "reference");
        EXPECT_NE(c.spec.backend, "template");
        EXPECT_EQ(c.spec.backend.rfind("fault_", 0), std::string::npos) << c.spec.id();
    }
    std::string notes;
    for (const auto& n : plan.notes) notes += n + "\n";
    EXPECT_NE(notes.find("999"), std::string::npos) << notes;      // fault_abi
    EXPECT_NE(notes.find("absurd device count"), std::string::npos) << notes;
}

TEST(Plan, BrokenPluginNamedExplicitlyBecomesACellForItsWorkerToReport) {
    const Plan plan = make_plan(options_with({"fault_abi"}, {"fault_abi"}), fs::temp_directory_path());
    ASSERT_EQ(plan.cells.size(), 2u);
    EXPECT_EQ(plan.cells[0].spec.id(), "fault_abi.0.rwkv7-tiny.decode.f32");
    EXPECT_TRUE(plan.cells[0].skip_reason.empty());
}

TEST(Plan, PlannedCellJsonRoundTrip) {
    PlannedCell c;
    c.spec.backend = "noop";
    c.spec.scenario = Scenario::decode;
    c.spec.workload = "w";
    c.skip_reason = "why";
    const PlannedCell back = nlohmann::json::parse(nlohmann::json(c).dump()).get<PlannedCell>();
    EXPECT_EQ(back.spec.id(), c.spec.id());
    EXPECT_EQ(back.skip_reason, "why");
}

// Every long window needs 5 tokens (1 un-timed + 4 timed) before the next may start, and the
// last must end at the total; over a sweep of totals and sample counts (--long-positions,
// --long-samples) the starts never overlap or run past the token stream.
TEST(LongScenario, WindowStartsKeepTheirGapAndEndAtTheTotal) {
    for (int total = 16; total <= 3000; total += 7)
        for (int samples : {2, 3, 5, 16, 64, 500}) {
            const auto pos = long_window_positions(total, samples);
            ASSERT_FALSE(pos.empty());
            EXPECT_GE(pos.front(), std::min(16, total - 5)) << total << " " << samples;
            EXPECT_LE(pos.back() + 5, total) << total << " " << samples;
            for (size_t i = 1; i < pos.size(); ++i)
                ASSERT_GE(pos[i], pos[i - 1] + 5) << "total " << total << " samples " << samples << " at " << i;
            EXPECT_LE(pos.size(), size_t(samples) + 1);
        }
    EXPECT_EQ(long_window_positions(16384, 16).back(), 16384 - 5);
}

// A cached synthetic checkpoint is reused only if it is what this build would write: same
// generator version, preset, seed and dtype. Anything else is regenerated.
TEST(Plan, StaleSyntheticWeightsAreRegenerated) {
    const auto dir = fs::temp_directory_path() / ("rwkvb_plan_synth_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const SyntheticModel m{"rwkv7-tiny", 1, synthetic_model_path(dir, "rwkv7-tiny", 1)};
    EXPECT_EQ(synthetic_model_staleness(m), "missing");
    prepare_models({m});
    EXPECT_EQ(synthetic_model_staleness(m), "");
    const ModelConfig& cfg = find_preset("rwkv7-tiny")->config;
    auto seed_in_file = [&] { return SafetensorsFile::open(m.path).metadata().at("seed"); };

    write_synthetic_model(cfg, 2, DType::F32, m.path, "rwkv7-tiny");  // another seed under this name
    EXPECT_NE(synthetic_model_staleness(m).find("seed 2"), std::string::npos) << synthetic_model_staleness(m);
    prepare_models({m});
    EXPECT_EQ(seed_in_file(), "1");

    write_synthetic_model(cfg, 1, DType::F16, m.path, "rwkv7-tiny");  // another dtype
    EXPECT_NE(synthetic_model_staleness(m).find("not F32"), std::string::npos) << synthetic_model_staleness(m);
    prepare_models({m});
    EXPECT_EQ(synthetic_model_staleness(m), "");

    { std::ofstream(m.path) << "truncated"; }  // damaged
    EXPECT_NE(synthetic_model_staleness(m).find("unreadable"), std::string::npos);
    prepare_models({m});
    EXPECT_EQ(synthetic_model_staleness(m), "");

    // Same metadata and shapes, one weight edited: the pinned SHA-256 catches it.
    {
        std::fstream f(m.path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-8, std::ios::end);
        f.put('\x7f');
    }
    EXPECT_NE(synthetic_model_staleness(m).find("SHA-256"), std::string::npos) << synthetic_model_staleness(m);
    const auto digests = prepare_models({m});
    EXPECT_EQ(synthetic_model_staleness(m), "");
    EXPECT_EQ(digests.at(m.path).size(), 64u);

    // An edited plan cannot make prepare_models write weights under a name of its choosing.
    const SyntheticModel evil{"rwkv7-tiny", 1, dir / "not-a-model.txt"};
    EXPECT_THROW(prepare_models({evil}), InputError);
    EXPECT_FALSE(fs::exists(evil.path));
    fs::remove_all(dir);
}
