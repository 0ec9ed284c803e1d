// run_cell in process (no isolation) with the reference plugin on the tiny official fixture
// checkpoints, every scenario with tiny parameters; every record must match the schema, and so
// must the run document made from them.
#include "run/cell.hpp"
#include "run/cell_guard.hpp"
#include "parity/cell_outputs.hpp"
#include "parity/cell_verdict.hpp"
#include "run/worker_process.hpp"
#include "io/atomic_file.hpp"
#include "errors.hpp"
#include "report_writers.hpp"
#include "results.hpp"
#include "safetensors.hpp"
#include "io/sha256.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace rwkvb {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += e + "\n";
    return s;
}

// The judge works on typed records; these tests look at the record as JSON, as it is written.
std::vector<std::string> judge_json(CellJudge& judge, json& record, const CellSpec& s, const fs::path& outputs) {
    CellResult typed = cell_result_from_json(record);
    auto notes = judge.judge(typed, s, outputs);
    record = typed;
    return notes;
}

class RunCell : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        setenv("RWKVBENCH_PLUGIN_PATH", RWKVB_PLUGIN_DIR, 1);  // the golden is found by name
        cache_ = fs::temp_directory_path() / ("rwkvb-h2-runcell-" + std::to_string(::getpid()));
        fs::remove_all(cache_);
        fs::create_directories(cache_);
    }
    static void TearDownTestSuite() { fs::remove_all(cache_); }

    static CellSpec spec(const std::string& scenario, const std::string& model = "rwkv7-tiny") {
        CellSpec s;
        s.backend = "reference";
        s.plugin_path = fs::path(RWKVB_PLUGIN_DIR) / "librwkvb_reference.so";
        s.workload = model;
        s.model_path = fs::path(RWKVB_FIXTURES_DIR) / model / "model.safetensors";
        s.scenario = parse_name<Scenario>(scenario);
        s.dtype = "f32";
        s.threads = 1;
        s.params.prompt_tokens = 6;
        s.params.decode_tokens = 3;
        s.params.batch = 2;
        s.params.long_positions = 80;
        s.params.long_samples = 3;
        s.params.parity_tokens = 6;
        s.params.warmup = 1;
        s.params.repetitions = 2;
        s.params.min_time_s = 0;
        s.params.target_ci = 0;  // exactly `repetitions`; TargetCiRepeatsUntilTheMedianIsPrecise tests it
        return s;
    }
    static CellEnvironment env() {
        CellEnvironment e;
        e.cache_dir = cache_;
        e.limits = {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 20.0}, {"gemm_f32_gflops", 50.0}};
        return e;
    }
    // run_cell, then the parent's verdict on its outputs, as `run` does (cell_verdict.hpp).
    static json judged(const CellSpec& s) {
        json rec = json(run_cell(s, env(), outputs_file(cache_, s.id())));
        CellJudge judge(GoldenSource{RWKVB_BINARY, cache_, 600}, {s});
        judge_json(judge, rec, s, outputs_file(cache_, s.id()));
        return rec;
    }
    static void expect_valid(const json& rec) {
        const auto errors = validate_json(rec, testing::sub_schema(load_results_schema(), "cell"));
        EXPECT_TRUE(errors.empty()) << joined(errors) << rec.dump(1).substr(0, 4000);
    }
    static inline fs::path cache_;
};

TEST_F(RunCell, Prefill) {
    const json r = judged(spec("prefill"));
    expect_valid(r);
    EXPECT_EQ(r["status"], "ok");
    EXPECT_EQ(r["timings"]["forward"]["n"].get<int>(), 2);
    EXPECT_GT(r["throughput"]["tokens_per_s"].get<double>(), 0);
    EXPECT_TRUE(r["roofline"]["gflops_fraction_of_limit"].is_number());
    EXPECT_EQ(r["model"]["version"], "7");
    EXPECT_GT(r["memory"]["peak_rss_bytes"].get<uint64_t>(), 0u);
    EXPECT_EQ(r["verification"]["verdict"], "PASS") << r["verification"].dump();
    EXPECT_EQ(r["verification"]["checks"].size(), 3u);  // first and last repetition, prompt with LOGITS_NONE
}

TEST_F(RunCell, DecodeAndBatch) {
    const json d = judged(spec("decode"));
    EXPECT_EQ(d["verification"]["verdict"], "PASS") << d["verification"].dump();
    expect_valid(d);
    EXPECT_EQ(d["timings"]["token"]["n"].get<int>(), 2 * 3);  // repetitions × decode_tokens, no warm-up
    EXPECT_EQ(d["timings"]["sequence"]["n"].get<int>(), 2);
    EXPECT_TRUE(d["roofline"]["gbps_fraction_of_limit"].is_number());
    const json b = judged(spec("batch"));
    EXPECT_EQ(b["verification"]["verdict"], "PASS") << b["verification"].dump();
    EXPECT_EQ(b["verification"]["checks"].size(), 4u);  // 2 streams × first and last repetition
    expect_valid(b);
    EXPECT_EQ(b["spec"]["params"]["batch"], 2);
    EXPECT_NEAR(b["throughput"]["tokens_per_s"].get<double>(), 2 * b["throughput"]["per_stream_tokens_per_s"].get<double>(),
                1e-9 * b["throughput"]["tokens_per_s"].get<double>());
}

TEST_F(RunCell, LongAdvancesThroughEveryPosition) {
    const json r = judged(spec("long"));
    EXPECT_EQ(r["verification"]["verdict"], "PASS") << r["verification"].dump();
    expect_valid(r);
    const auto& pos = r["long"]["positions"];
    ASSERT_GE(pos.size(), 2u);
    EXPECT_EQ(pos.back(), 80 - 4);  // the last window ends at long_positions
    EXPECT_EQ(r["long"]["state_bytes"].front(), r["long"]["state_bytes"].back());  // RWKV: flat state
    EXPECT_EQ(r["long"]["latency_samples_s"][0].size(), 4u);
}

TEST_F(RunCell, ParityAgainstItselfPassesAndTheGoldenIsCached) {
    const json first = judged(spec("parity", "rwkv4-tiny"));
    expect_valid(first);
    EXPECT_EQ(first["parity"]["verdict"], "PASS") << first["parity"].dump();
    EXPECT_LE(first["parity"]["rel_l2"]["max"].get<double>(), 1e-12);
    EXPECT_FALSE(first.contains("noise"));  // its timing is not a performance figure: no noise record
    const json second = judged(spec("parity", "rwkv4-tiny"));
    const json& g1 = first["parity"]["golden"]["requests"];
    const json& g2 = second["parity"]["golden"]["requests"];
    ASSERT_EQ(g1.size(), 2u);  // streams 0 and 1 (the batch's second stream has its own tokens)
    EXPECT_FALSE(g1[0]["from_cache"].get<bool>());
    EXPECT_TRUE(g2[0]["from_cache"].get<bool>());
    EXPECT_EQ(g1[0]["key"], g2[0]["key"]);
    EXPECT_TRUE(fs::exists(g2[0]["cache_path"].get<std::string>()));
}

TEST_F(RunCell, ParityChecksSequenceModeAndBatchToo) {
    const json r = judged(spec("parity"));
    expect_valid(r);
    for (const char* mode : {"decode", "sequence", "batch2_stream0", "batch2_stream1"}) {
        ASSERT_TRUE(r["parity"]["modes"].contains(mode)) << mode;
        EXPECT_EQ(r["parity"]["modes"][mode]["verdict"], "PASS") << mode;
        EXPECT_EQ(r["parity"]["modes"][mode]["steps"], 6) << mode;
    }
}

#ifdef RWKVB_BUGGY_PLUGIN
// A backend right in sequential decode but wrong in sequence mode, or in a batch's second
// stream, must FAIL its parity cell: the speed of those paths is what prefill and batch report.
TEST_F(RunCell, ParityFailsABackendWrongOnlyInSequenceModeOrBatch) {
    for (const std::string bug : {"sequence", "batch"}) {
        CellSpec s = spec("parity");
        s.backend = "buggy";
        s.plugin_path = RWKVB_BUGGY_PLUGIN;
        s.plugin_options = "bug=" + bug;
        const json r = judged(s);
        expect_valid(r);
        EXPECT_EQ(r["parity"]["verdict"], "FAIL") << bug << r["parity"]["failures"].dump();
        EXPECT_EQ(r["parity"]["modes"]["decode"]["verdict"], "PASS") << bug;
        const char* broken = bug == "sequence" ? "sequence" : "batch2_stream1";
        EXPECT_EQ(r["parity"]["modes"][broken]["verdict"], "FAIL") << bug;
        ASSERT_FALSE(r["parity"]["failures"].empty());
        EXPECT_EQ(r["parity"]["failures"][0].get<std::string>().rfind(broken, 0), 0u) << r["parity"]["failures"].dump();
    }
    CellSpec fine = spec("parity");
    fine.backend = "buggy";
    fine.plugin_path = RWKVB_BUGGY_PLUGIN;
    EXPECT_EQ(judged(fine)["parity"]["verdict"], "PASS");
}

// A failure is classified by where it happened (PluginError's stage), not by its wording: a
// failing create() is a load-error; a failing forward() is an error even when its message reads
// like a load failure.
TEST_F(RunCell, FailuresAreClassifiedByStageNotByWording) {
    CellSpec s = spec("decode");
    s.backend = "buggy";
    s.plugin_path = RWKVB_BUGGY_PLUGIN;
    int code = -1;
    s.plugin_options = "bug=create";
    json r = json(run_cell_guarded(s, env(), {}, &code));
    EXPECT_EQ(r["status"], "load-error") << r.dump();
    EXPECT_EQ(code, kWorkerLoadError);
    s.plugin_options = "bug=forward";
    r = json(run_cell_guarded(s, env(), {}, &code));
    EXPECT_EQ(r["status"], "error") << r.dump();
    EXPECT_EQ(code, kWorkerError);
    EXPECT_NE(r["status_detail"].get<std::string>().find("load failed ("), std::string::npos) << r.dump();
    s.plugin_options = "";
    s.model_path = "/nonexistent/model.safetensors";
    EXPECT_EQ(run_cell_guarded(s, env(), {}, &code).status, CellStatus::load_error);
}
#endif

// The worker's record is not trusted: a verdict written into it is discarded and the parent judges
// the outputs file alone. A missing or malformed outputs file makes the cell invalid, never ok.
TEST_F(RunCell, VerdictsComeFromTheOutputsFileNotTheRecord) {
    const CellSpec s = spec("decode");
    const fs::path out = outputs_file(cache_, s.id());
    CellJudge judge(GoldenSource{RWKVB_BINARY, cache_, 600}, {s});

    json forged = json(run_cell(s, env(), out));
    forged["verification"] = {{"verdict", "PASS"}};
    {  // the outputs say otherwise: every logit of the last repetition zeroed
        std::string bytes = read_file(out);
        std::fill(bytes.end() - 3 * 512 * 4, bytes.end(), '\0');
        std::ofstream(out, std::ios::binary | std::ios::trunc) << bytes;
    }
    judge_json(judge, forged, s, out);
    EXPECT_EQ(forged["status"], "invalid") << forged.dump(1).substr(0, 2000);
    EXPECT_EQ(forged["verification"]["verdict"], "FAIL");
    EXPECT_FALSE(fs::exists(out));  // consumed

    json missing = json(run_cell(s, env(), out));
    fs::remove(out);
    judge_json(judge, missing, s, out);
    EXPECT_EQ(missing["status"], "invalid");
    EXPECT_NE(missing["status_detail"].get<std::string>().find("outputs"), std::string::npos) << missing["status_detail"];

    json truncated = json(run_cell(s, env(), out));
    fs::resize_file(out, fs::file_size(out) / 2);
    judge_json(judge, truncated, s, out);
    EXPECT_EQ(truncated["status"], "invalid") << truncated["status_detail"];
}

// A plugin runs as you and can write the cache. An entry rewritten during a run — even with a
// consistent SHA-256 of its own — no longer matches what the judge pinned before any plugin ran:
// it is recomputed in the clean room, not believed. Non-finite golden logits are never accepted.
TEST_F(RunCell, GoldenForgedDuringTheRunIsNotBelieved) {
    const CellSpec s = spec("decode", "rwkv4-tiny");
    const fs::path out = outputs_file(cache_, s.id());
    CellJudge judge(GoldenSource{RWKVB_BINARY, cache_, 600}, {s});
    judge.prefetch({s}, [](const std::string&) {});
    json rec = json(run_cell(s, env(), out));

    // Forge every golden entry of this cell: logits zeroed, or NaN, each with a matching hash.
    const fs::path golden_dir = cache_ / "golden";
    for (const double forged_value : {0.0, std::nan("")}) {
        for (const auto& e : fs::directory_iterator(golden_dir)) {
            if (e.path().extension() != ".safetensors") continue;
            const auto f = SafetensorsFile::open(e.path());
            const TensorView& l = f.at("logits");
            std::vector<double> logits(l.nbytes / 8, forged_value);
            SafetensorsWriter w;
            for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
            w.set_metadata("logits_sha256", sha256_hex(std::as_bytes(std::span(logits))));
            w.add_bytes("tokens", DType::I32, f.at("tokens").shape, {static_cast<const std::byte*>(f.at("tokens").data), f.at("tokens").nbytes});
            w.add_bytes("steps", DType::I32, f.at("steps").shape, {static_cast<const std::byte*>(f.at("steps").data), f.at("steps").nbytes});
            w.add_bytes("logits", DType::F64, l.shape, std::as_bytes(std::span(logits)));
            w.write(e.path());
        }
        json copy = rec;
        write_file_atomically(out.string() + ".keep", read_file(out));
        const auto notes = judge_json(judge, copy, s, out);
        fs::rename(out.string() + ".keep", out);
        EXPECT_EQ(copy["status"], "ok") << copy.dump(1).substr(0, 1500);
        EXPECT_EQ(copy["verification"]["verdict"], "PASS");
        ASSERT_FALSE(notes.empty()) << forged_value;
        EXPECT_NE(notes[0].find(std::isnan(forged_value) ? "recomputed" : "changed since this run first read it"),
                  std::string::npos)
            << notes[0];
    }
    fs::remove(out);
    fs::remove_all(golden_dir);  // entries this cell did not use are still forged: later tests recompute
}

// --target-ci goes on past the minimum until the median's 95% CI is narrow enough (which needs
// at least 6 samples for 95% coverage), and --max-time bounds it.
TEST_F(RunCell, TargetCiRepeatsUntilTheMedianIsPrecise) {
    CellSpec s = spec("prefill");
    s.params.target_ci = 0.5;
    s.params.max_time_s = 60;
    const json precise = json(run_cell(s, env(), {}));
    const json& t = precise["timings"]["forward"];
    EXPECT_GE(t["n"].get<int>(), 6) << t.dump();
    EXPECT_GE(t["ci95"]["coverage"].get<double>(), 0.95);
    EXPECT_LE((t["ci95"]["high"].get<double>() - t["ci95"]["low"].get<double>()) / 2,
              0.5 * t["median"].get<double>());
    s.params.max_time_s = 0;  // nothing left to spend
    EXPECT_EQ(json(run_cell(s, env(), {}))["timings"]["forward"]["n"], 2);
}

TEST_F(RunCell, ThresholdOverridesAreAppliedAndRecorded) {
    CellSpec s = spec("parity", "rwkv4-tiny");
    s.parity_thresholds = {{"max_rel_l2", 0.5}, {"max_mean_kl", 0.1}, {"min_top1", nullptr}};
    const json r = judged(s);
    EXPECT_EQ(r["parity"]["thresholds"]["max_rel_l2"], 0.5);
    EXPECT_EQ(r["parity"]["thresholds"]["max_mean_kl"], 0.1);
    EXPECT_TRUE(r["parity"]["thresholds"]["min_top1"].is_null());
}

TEST_F(RunCell, BadInputsAreInputErrors) {
    CellSpec s = spec("decode");
    s = spec("decode");
    s.dtype = "f12";
    EXPECT_THROW(run_cell(s, env(), {}), InputError);
    s = spec("decode");
    s.model_path = "/nonexistent/model.safetensors";
    EXPECT_THROW(run_cell(s, env(), {}), InputError);
    s = spec("batch");
    s.params.batch = 0;
    EXPECT_THROW(run_cell(s, env(), {}), InputError);
    s = spec("parity");
    s.parity_thresholds = {{"max_rel", 1}};
    EXPECT_THROW(run_cell(s, env(), {}), InputError);
}

TEST_F(RunCell, RunDocumentOfRealRecordsValidates) {
    json cells = json::array();
    for (const char* sc : {"parity", "prefill", "decode"}) cells.push_back(judged(spec(sc)));
    std::vector<CellResult> typed;
    for (const auto& c : cells) typed.push_back(cell_result_from_json(c));
    const RunDocument document = make_run_document({{"tool", "rwkvbench"}}, json::object(), env().limits, typed);
    const json doc = document;
    const auto errors = validate_json(doc, load_results_schema());
    EXPECT_TRUE(errors.empty()) << joined(errors);
    EXPECT_EQ(run_exit_code(document.cells), 0);
    EXPECT_TRUE(doc["cells"][2]["certification"]["certified"].get<bool>());
    std::ostringstream out;
    write_report(document, ReportFormat::table, out);
    EXPECT_NE(out.str().find("reference"), std::string::npos);
}

// The real thing: `rwkvbench run` in worker processes; its results.json must match the schema.
TEST_F(RunCell, ResultsOfTheRealCommandValidate) {
    const fs::path dir = cache_ / "run";
    const std::string cmd = std::string("RWKVBENCH_CACHE_DIR=") + cache_.string() + " " + RWKVB_BINARY +
                            " run -b reference -w rwkv7-tiny -s decode parity --prompt 4 --tokens 2 --parity-tokens 4"
                            " --repetitions 2 --min-time 0 --target-ci 0 --skip-limits --threads 1 --dir " + dir.string() +
                            " > " + (cache_ / "run.log").string() + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "see " << (cache_ / "run.log");
    std::ifstream in(dir / "results.json");
    ASSERT_TRUE(in);
    const json doc = json::parse(in);
    const auto errors = validate_json(doc, load_results_schema());
    EXPECT_TRUE(errors.empty()) << joined(errors);
    ASSERT_EQ(doc["cells"].size(), 2u);
    EXPECT_EQ(doc["summary"]["exit_code"], 0);
    for (const auto& c : doc["cells"]) {
        EXPECT_EQ(c["status"], "ok") << c.dump(1);
        // Host load is recorded once per cell, in one shape.
        EXPECT_TRUE(c["host_load"]["before"].contains("loadavg")) << c.dump(1);
        EXPECT_TRUE(c["host_load"]["after"].contains("loadavg")) << c.dump(1);
        EXPECT_FALSE(c.contains("host_load_before"));
        EXPECT_FALSE(c.contains("host_load_after"));
    }
}

}  // namespace
}  // namespace rwkvb
