// A plugin must never obtain a PASS it did not earn (DESIGN.md §6, issue "trust nothing a
// plugin touches"). The liars (tests/fault_plugins/liar_*.c) compute real RWKV logits with the
// golden reference and lie in one way each; every one runs beside the honest reference in one
// `rwkvbench run`, which must catch exactly its lie, finish every honest cell, and leave the
// cache such that the next run still PASSes the honest backend. Then the caches themselves are
// tampered with: golden logits, synthetic weights, machine limits.
#include "io/atomic_file.hpp"
#include "measure/limits.hpp"
#include "run/worker_process.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace rwkvb;
using json = nlohmann::json;

namespace {

std::string plugin(const std::string& name) {
    return (fs::path(RWKVB_FAULT_PLUGIN_DIR) / ("librwkvb_" + name + ".so")).string();
}

// One cache for the whole suite (golden logits are computed once), a scratch dir per test.
class Trust : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        cache_ = fs::temp_directory_path() / ("rwkvb_trust_cache_" + std::to_string(::getpid()));
        fs::remove_all(cache_);
        ::setenv("RWKVBENCH_CACHE_DIR", cache_.c_str(), 1);
    }
    static void TearDownTestSuite() { fs::remove_all(cache_); }
    void SetUp() override {
        dir_ = cache_ / ::testing::UnitTest::GetInstance()->current_test_info()->name();
        fs::create_directories(dir_);
    }

    struct Run {
        ProcessOutcome outcome;
        std::map<std::string, json> cells;  // by id
    };
    // `rwkvbench run` on the tiny RWKV-7 preset with few tokens; `extra` adds backends/plugins.
    Run run(const std::string& name, std::vector<std::string> extra, const std::string& scenarios) {
        std::vector<std::string> args = {"run",           "--workload", "rwkv7-tiny", "--scenario", scenarios,
                                         "--prompt",      "5",          "--tokens",   "3",          "--parity-tokens",
                                         "6",             "--batch",    "3",          "--long-positions", "40",
                                         "--long-samples", "3",         "--warmup",   "0",          "--repetitions",
                                         "2",             "--min-time", "0", "--target-ci", "0",          "--skip-limits", "--threads", "1",
                                         "--dir",         (dir_ / name).string()};
        args.insert(args.end(), extra.begin(), extra.end());
        Run r{run_process(RWKVB_BINARY, args, WorkerLimits{300, 0}), {}};
        const fs::path results = dir_ / name / "results.json";
        EXPECT_TRUE(fs::exists(results)) << results << "\n" << r.outcome.output_tail;
        if (fs::exists(results)) {
            const json doc = json::parse(read_file(results));  // named: the loop must not outlive it
            for (const auto& c : doc.at("cells")) r.cells[c.at("id").get<std::string>()] = c;
        }
        return r;
    }
    static std::string id(const std::string& backend, const std::string& scenario) {
        return backend + ".0.rwkv7-tiny." + scenario + ".f32";
    }
    static fs::path synthetic_model() { return cache_ / "models" / "rwkv7-tiny-s1.safetensors"; }

    static inline fs::path cache_;
    fs::path dir_;
};

const std::vector<std::string> kTimed = {"prefill", "decode", "batch", "long"};

TEST_F(Trust, EveryLieIsCaughtAndHonestCellsPass) {
    std::vector<std::string> extra = {"--backend", "reference,liar_honest,liar_poison,liar_batchclone,liar_skipnone"};
    for (const char* l : {"liar_honest", "liar_poison", "liar_batchclone", "liar_skipnone"})
        extra.insert(extra.end(), {"--plugin", plugin(l)});
    const Run r = run("liars", extra, "prefill,decode,batch,long,parity");
    ASSERT_EQ(r.outcome.signal, 0) << r.outcome.output_tail;
    EXPECT_EQ(r.outcome.exit_code, 3) << r.outcome.output_tail;  // parity FAIL / invalid cells
    ASSERT_EQ(r.cells.size(), 25u) << r.outcome.output_tail;
    auto cell = [&](const std::string& b, const std::string& s) -> const json& { return r.cells.at(id(b, s)); };

    // The honest backends: every timed cell verified, parity PASS, speed certified.
    for (const char* honest : {"reference", "liar_honest"}) {
        EXPECT_EQ(cell(honest, "parity")["parity"]["verdict"], "PASS") << honest;
        for (const auto& s : kTimed) {
            const json& c = cell(honest, s);
            EXPECT_EQ(c["status"], "ok") << honest << " " << s << ": " << c.value("status_detail", "");
            EXPECT_EQ(c["verification"]["verdict"], "PASS") << honest << " " << s;
            EXPECT_TRUE(c["certification"]["certified"].get<bool>()) << honest << " " << s;
        }
    }

    // Poisoned weights in memory: its own parity would pass against a golden computed from that
    // memory; the clean-room golden comes from the file, so every mode and timed cell fails.
    EXPECT_EQ(cell("liar_poison", "parity")["parity"]["verdict"], "FAIL");
    for (const auto& s : kTimed) EXPECT_EQ(cell("liar_poison", s)["status"], "invalid") << s;

    // Batch clone: right for one stream, so decode, prefill and long pass; the batch path fails.
    const json& clone_parity = cell("liar_batchclone", "parity")["parity"];
    EXPECT_EQ(clone_parity["verdict"], "FAIL");
    EXPECT_EQ(clone_parity["modes"]["decode"]["verdict"], "PASS");
    EXPECT_EQ(clone_parity["modes"]["batch2_stream1"]["verdict"], "FAIL");
    EXPECT_EQ(cell("liar_batchclone", "batch")["status"], "invalid");
    EXPECT_NE(cell("liar_batchclone", "batch")["status_detail"].get<std::string>().find("batch.stream1"),
              std::string::npos)
        << cell("liar_batchclone", "batch")["status_detail"];
    for (const char* s : {"prefill", "decode", "long"}) EXPECT_EQ(cell("liar_batchclone", s)["status"], "ok") << s;

    // Skipping prompts fed with LOGITS_NONE: the parity cell never asks for NONE and passes, but
    // every timed cell that does is caught by its own output.
    EXPECT_EQ(cell("liar_skipnone", "parity")["parity"]["verdict"], "PASS");
    for (const auto& s : kTimed) {
        EXPECT_EQ(cell("liar_skipnone", s)["status"], "invalid") << s;
        EXPECT_FALSE(cell("liar_skipnone", s)["certification"]["certified"].get<bool>()) << s;
    }
    EXPECT_NE(cell("liar_skipnone", "prefill")["status_detail"].get<std::string>().find("prefill.none_then_token"),
              std::string::npos);

    // The poisoner left the cache clean: the next run reads every golden from it and PASSes.
    const Run again = run("after_liars", {"--backend", "reference"}, "decode,parity");
    EXPECT_EQ(again.outcome.exit_code, 0) << again.outcome.output_tail;
    const json& p = again.cells.at(id("reference", "parity"))["parity"];
    EXPECT_EQ(p["verdict"], "PASS");
    for (const auto& req : p["golden"]["requests"]) EXPECT_TRUE(req["from_cache"].get<bool>()) << req.dump();
}

// A failed cell's record carries the command line that runs it again: pasted into a shell, it
// plans the very same cell (same spec hash) and meets the same verdict.
TEST_F(Trust, ReproLineRerunsTheSameCell) {
    const Run first = run("first", {"--backend", "liar_batchclone", "--plugin", plugin("liar_batchclone")}, "batch");
    ASSERT_EQ(first.outcome.exit_code, 3) << first.outcome.output_tail;
    const json& cell = first.cells.at(id("liar_batchclone", "batch"));
    ASSERT_EQ(cell["status"], "invalid");
    const std::string repro = cell["repro"].get<std::string>();
    EXPECT_NE(first.outcome.output_tail.find("rerun it: " + repro), std::string::npos) << first.outcome.output_tail;
    ASSERT_EQ(repro.rfind("rwkvbench run ", 0), 0u) << repro;

    const fs::path again = dir_ / "again";
    const std::string sh = "exec \"$0\" " + repro.substr(std::string("rwkvbench ").size()) +
                           " --skip-limits --dir '" + again.string() + "'";
    const ProcessOutcome o = run_process("/bin/sh", {"-c", sh, RWKVB_BINARY}, WorkerLimits{300, 0});
    EXPECT_EQ(o.exit_code, 3) << o.output_tail;
    const json doc = json::parse(read_file(again / "results.json"));
    ASSERT_EQ(doc["cells"].size(), 1u);
    EXPECT_EQ(doc["cells"][0]["spec_hash"], cell["spec_hash"]) << doc["cells"][0]["spec"].dump() << "\n"
                                                              << cell["spec"].dump();
    EXPECT_EQ(doc["cells"][0]["status"], "invalid");
}

// Every golden entry edited on disk — logits zeroed, one bit flipped, file cut short — is caught
// by its SHA-256 (or its reader), recomputed in the clean room, said on stderr and in the record.
TEST_F(Trust, TamperedGoldenCacheIsRecomputed) {
    const Run first = run("first", {"--backend", "reference"}, "parity");
    ASSERT_EQ(first.outcome.exit_code, 0) << first.outcome.output_tail;
    const json& requests = first.cells.at(id("reference", "parity"))["parity"]["golden"]["requests"];
    ASSERT_EQ(requests.size(), 2u);
    const fs::path entry = requests[0]["cache_path"].get<std::string>();
    const std::string original = read_file(entry);

    const std::vector<std::pair<std::string, std::function<std::string(std::string)>>> tamperings = {
        {"zeroed", [](std::string b) { std::fill(b.end() - 64 * 8, b.end(), '\0'); return b; }},
        {"flipped", [](std::string b) { b[b.size() - 20] ^= 0x04; return b; }},
        {"truncated", [](std::string b) { return b.substr(0, b.size() / 2); }}};
    for (const auto& [name, tamper] : tamperings) {
        std::ofstream(entry, std::ios::binary | std::ios::trunc) << tamper(original);
        const Run r = run(name, {"--backend", "reference"}, "parity");
        EXPECT_EQ(r.outcome.exit_code, 0) << name << r.outcome.output_tail;
        const json& p = r.cells.at(id("reference", "parity"))["parity"];
        EXPECT_EQ(p["verdict"], "PASS") << name;
        const std::string why = p["golden"]["requests"][0]["recomputed_because"].get<std::string>();
        EXPECT_NE(why.find("recomputed"), std::string::npos) << name << ": " << why;
        EXPECT_NE(r.outcome.output_tail.find("recomputed"), std::string::npos) << name << r.outcome.output_tail;
        EXPECT_EQ(read_file(entry), original) << name;  // rewritten with the same bytes
    }
}

// Synthetic weights edited in the cache (metadata and shapes intact, one weight changed) no longer
// hash to the SHA-256 pinned when they were written: they are regenerated, and the run says so.
TEST_F(Trust, AlteredSyntheticWeightsAreRegenerated) {
    const Run first = run("first", {"--backend", "reference"}, "decode");
    ASSERT_EQ(first.outcome.exit_code, 0) << first.outcome.output_tail;
    const std::string original = read_file(synthetic_model());
    std::string altered = original;
    altered[altered.size() - 100] ^= 0x10;
    std::ofstream(synthetic_model(), std::ios::binary | std::ios::trunc) << altered;
    const Run r = run("second", {"--backend", "reference"}, "decode");
    EXPECT_EQ(r.outcome.exit_code, 0) << r.outcome.output_tail;
    EXPECT_NE(r.outcome.output_tail.find("no longer matches the SHA-256"), std::string::npos) << r.outcome.output_tail;
    EXPECT_EQ(read_file(synthetic_model()), original);
    EXPECT_EQ(r.cells.at(id("reference", "decode"))["verification"]["verdict"], "PASS");
}

// A limits cache edited to an absurd ceiling is not used: no "7.4e8 % of bandwidth".
TEST_F(Trust, AbsurdLimitsCacheGivesNoFractions) {
    const fs::path limits = limits_cache_path(cache_, 1);  // the runs here use --threads 1
    fs::create_directories(limits.parent_path());
    std::ofstream(limits) << R"({"schema": "rwkvbench-limits", "memory_read_gbps": 1e-9, "gemm_f32_gflops": 1e-9})";
    const Run r = run("absurd", {"--backend", "reference"}, "decode");
    fs::remove(limits);
    ASSERT_EQ(r.outcome.exit_code, 0) << r.outcome.output_tail;
    EXPECT_NE(r.outcome.output_tail.find("not plausible"), std::string::npos) << r.outcome.output_tail;
    const json& rec = r.cells.at(id("reference", "decode"));
    EXPECT_TRUE(rec["roofline"]["gbps_fraction_of_limit"].is_null()) << rec["roofline"].dump();
}

}  // namespace
