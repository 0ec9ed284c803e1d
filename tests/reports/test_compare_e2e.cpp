// `rwkvbench compare` end to end with the real binary: runs of the `slow` test plugin (the golden
// reference whose forward() sleeps --plugin-options sleep_us=N, tests/fault_plugins/slow.c), so
// that the speed difference between two runs is known. Same against same is "same" (exit 0); a
// forward 10% slower is "slower REGRESSION" (exit 5, also in the JSON); a file that is not a results
// document and a pair with nothing in common exit 2; a candidate from another host reports the
// regression without gating on it unless --gate. The statistical power behind the first two
// (detection >= 19/20, false positives <= 1/20) is measured by benchmarks/compare_power.sh.
#include "io/atomic_file.hpp"
#include "run_cli.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using json = nlohmann::json;
using rwkvb::read_file;
using rwkvb::write_file_atomically;
using rwkvb::test::CliResult;
using rwkvb::test::run_cli;

namespace {

// The forward time of the base, and the candidate's 10% slower one. Sleep-dominated forwards (the
// tiny model's own forward is far shorter) keep the repetitions' CV far below compare's 10%
// "noisy" bound even on a loaded host, where a wake-up now and then comes 2-4 ms late: against
// a repetition of 4 x 10 ms that is under 10% of one repetition (CV <= 4% measured on a 2-core
// host at load 5), where 4 x 2 ms made a third of the comparisons noisy. Each run takes ~1 s.
constexpr int kSleepUs = 10000;
constexpr int kSlowerUs = kSleepUs + kSleepUs / 10;

const std::string kPlugin = (fs::path(RWKVB_FAULT_PLUGIN_DIR) / "librwkvb_slow.so").string();

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

rwkvb::test::RunOptions within(double seconds) {
    rwkvb::test::RunOptions o;
    o.timeout_s = seconds;
    return o;
}

// Lines of `text` that are not empty.
std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        const size_t end = std::min(text.find('\n', start), text.size());
        if (end > start) out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

class CompareE2E : public ::testing::Test {
protected:
    // One scratch directory and one cache (synthetic weights, golden logits) for the suite.
    static void SetUpTestSuite() {
        root_ = fs::temp_directory_path() / ("rwkvb_compare_e2e_" + std::to_string(::getpid()));
        fs::remove_all(root_);
        fs::create_directories(root_ / "cache");
        ::setenv("RWKVBENCH_CACHE_DIR", (root_ / "cache").c_str(), 1);
    }
    static void TearDownTestSuite() {
        if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) fs::remove_all(root_);
        ::unsetenv("RWKVBENCH_CACHE_DIR");
        runs_.clear();
    }

    // `rwkvbench run` of the slow plugin's decode cell into root_/name: exactly 10 repetitions
    // (--target-ci 0: no more to tighten the CI).
    static CliResult run(const std::string& name, int sleep_us, const std::string& workload = "rwkv7-tiny") {
        const fs::path dir = root_ / name;
        fs::remove_all(dir);
        return run_cli({"run", "--plugin", kPlugin, "-b", "slow", "-w", workload, "-s", "decode", "--skip-limits",
                        "--threads", "1", "--tokens", "4", "--repetitions", "10", "--warmup", "1", "--min-time", "0",
                        "--target-ci", "0", "--plugin-options", "sleep_us=" + std::to_string(sleep_us), "--dir",
                        dir.string()},
                       within(120));
    }
    static fs::path results(const std::string& name) { return root_ / name / "results.json"; }

    // The coefficient of variation of a run's repetitions, or -1 when it has none to show.
    static double repetition_cv(const std::string& name) {
        std::error_code ec;
        if (!fs::is_regular_file(results(name), ec)) return -1;
        const json doc = json::parse(read_file(results(name)), nullptr, false);
        const json* cv = nullptr;
        if (doc.is_object() && doc.contains("cells") && doc["cells"].size() == 1 && doc["cells"][0].contains("noise"))
            cv = &doc["cells"][0]["noise"]["cv"];
        return cv && cv->is_number() ? cv->get<double>() : -1;
    }

    // The runs the tests compare, each made once for the suite (as ctest runs every test in a
    // process of its own, only those a test asks for): "base" and "same" at kSleepUs, "slower" at
    // kSlowerUs. A run whose repetitions vary so much that compare would call it noisy (a busy
    // host, not the plugin) is measured again, up to 3 times in all; then it is what it is.
    static const CliResult& made(const std::string& name) {
        if (!runs_.count(name)) {
            const int sleep_us = name == "slower" ? kSlowerUs : kSleepUs;
            for (int attempt = 0; attempt < 3; ++attempt) {
                runs_[name] = run(name, sleep_us);
                if (runs_[name].exit_code != 0 || repetition_cv(name) < 0.08) break;
            }
        }
        return runs_[name];
    }

    // Each test first checks that the runs it compares ran and were judged ok.
    void expect_made(std::initializer_list<const char*> names) {
        for (const char* name : names) {
            const CliResult& r = made(name);
            ASSERT_EQ(r.exit_code, 0) << name << ": " << r.describe();
            const json doc = json::parse(read_file(results(name)));
            ASSERT_EQ(doc.at("cells").size(), 1u) << name;
            const json& cell = doc.at("cells").at(0);
            ASSERT_EQ(cell.at("status"), "ok") << name << ": " << cell.dump();
            ASSERT_EQ(cell.at("backend").at("name"), "slow") << name;
            EXPECT_LE(cell.at("noise").at("cv").get<double>(), 0.1)
                << name << ": the host was too busy for a verdict (3 tries); the repetitions: "
                << cell.at("timings").dump();
        }
    }

    CliResult compare(const std::vector<std::string>& args) {
        std::vector<std::string> a = {"compare"};
        a.insert(a.end(), args.begin(), args.end());
        return run_cli(a, within(60));
    }

    static inline fs::path root_;
    static inline std::map<std::string, CliResult> runs_;
};

TEST_F(CompareE2E, SleepUsSetsTheForwardTime) {
    // The option must reach the plugin: 10% more sleep, ~10% fewer tokens per second (and the
    // tokens per second match 1 / sleep, so the sleep, not the tiny model, sets the time).
    ASSERT_NO_FATAL_FAILURE(expect_made({"base", "slower"}));
    const double base = json::parse(read_file(results("base")))["cells"][0]["throughput"]["tokens_per_s"];
    const double slower = json::parse(read_file(results("slower")))["cells"][0]["throughput"]["tokens_per_s"];
    EXPECT_NEAR(base, 1e6 / kSleepUs, 0.1 * 1e6 / kSleepUs);
    EXPECT_NEAR(slower / base, double(kSleepUs) / kSlowerUs, 0.04);
}

TEST_F(CompareE2E, SameAgainstSameIsSameAndExitsZero) {
    ASSERT_NO_FATAL_FAILURE(expect_made({"base", "same"}));
    const CliResult table = compare({results("base").string(), results("same").string()});
    EXPECT_EQ(table.exit_code, 0) << table.out << table.describe();
    EXPECT_FALSE(contains(table.out, "REGRESSION")) << table.out;
    EXPECT_TRUE(contains(table.out, "1 comparable cell(s), 0 regression(s)")) << table.out;

    // Run directories are accepted as well as their results.json.
    const CliResult j = compare({(root_ / "base").string(), (root_ / "same").string(), "--format", "json"});
    EXPECT_EQ(j.exit_code, 0) << j.describe();
    const json doc = json::parse(j.out);
    ASSERT_EQ(doc.at("cells").size(), 1u) << j.out;
    EXPECT_EQ(doc["cells"][0]["verdict"], "same") << j.out;
    EXPECT_EQ(doc["cells"][0]["regression"], false) << j.out;
    EXPECT_EQ(doc["regressions"], 0);
    EXPECT_EQ(doc["same_host"], true);
}

TEST_F(CompareE2E, TenPercentSlowerIsARegressionAndExitsFive) {
    ASSERT_NO_FATAL_FAILURE(expect_made({"base", "slower"}));
    const CliResult table = compare({results("base").string(), results("slower").string()});
    EXPECT_EQ(table.exit_code, 5) << table.out << table.describe();
    EXPECT_TRUE(contains(table.out, "slower REGRESSION")) << table.out;

    const fs::path out = root_ / "comparison.json";
    const CliResult j = compare({results("base").string(), results("slower").string(), "-o", out.string()});
    EXPECT_EQ(j.exit_code, 5) << j.describe();
    EXPECT_TRUE(contains(j.out, "slower REGRESSION")) << j.out;  // the table, for the person at the terminal
    const json doc = json::parse(read_file(out));
    EXPECT_EQ(doc.at("schema"), "rwkvbench-comparison");
    EXPECT_EQ(doc.at("regressions"), 1) << doc.dump(2);
    EXPECT_EQ(doc.at("exit_code"), 5);
    ASSERT_EQ(doc.at("cells").size(), 1u);
    const json& cell = doc["cells"][0];
    EXPECT_EQ(cell["verdict"], "slower");
    EXPECT_EQ(cell["regression"], true);
    // The estimate brackets the injected 1/1.1 speed ratio.
    const double ratio = cell["speed_ratio"], low = cell["speed_ratio_ci95"][0], high = cell["speed_ratio_ci95"][1];
    EXPECT_NEAR(ratio, double(kSleepUs) / kSlowerUs, 0.04) << cell.dump();
    EXPECT_LE(low, ratio);
    EXPECT_GE(high, ratio);
    EXPECT_LT(high, 1.0) << cell.dump();
    EXPECT_LT(cell["p_value"].get<double>(), 0.01) << cell.dump();

    // The other way round it is faster, not a regression.
    const CliResult back = compare({results("slower").string(), results("base").string()});
    EXPECT_EQ(back.exit_code, 0) << back.out << back.describe();
    EXPECT_TRUE(contains(back.out, "faster")) << back.out;
    EXPECT_FALSE(contains(back.out, "REGRESSION")) << back.out;
}

TEST_F(CompareE2E, AnotherHostReportsTheRegressionButGatesOnlyWithGate) {
    ASSERT_NO_FATAL_FAILURE(expect_made({"base", "slower"}));
    json doc = json::parse(read_file(results("slower")));
    ASSERT_TRUE(doc.at("run").contains("hostname")) << doc.at("run").dump();
    doc["run"]["hostname"] = doc["run"]["hostname"].get<std::string>() + "-elsewhere";
    const fs::path other = root_ / "other_host.json";
    write_file_atomically(other, doc.dump(2));

    // Without --gate the slowdown is reported (verdict, change, p) as an instance comparison, but
    // it is not a gating regression: exit 0.
    const CliResult plain = compare({results("base").string(), other.string()});
    EXPECT_EQ(plain.exit_code, 0) << plain.out << plain.describe();
    EXPECT_TRUE(contains(plain.out, "compare instances")) << plain.out;
    EXPECT_TRUE(contains(plain.out, "different hosts")) << plain.out;
    EXPECT_TRUE(contains(plain.out, ": slower: -")) << plain.out;  // the cell's line: "-9.1% (95% CI ...), p = ..."
    EXPECT_TRUE(contains(plain.out, "tok/s/core")) << plain.out;   // instance columns
    EXPECT_FALSE(contains(plain.out, "REGRESSION")) << plain.out;
    const CliResult j = compare({results("base").string(), other.string(), "--format", "json"});
    EXPECT_EQ(j.exit_code, 0) << j.describe();
    const json c = json::parse(j.out);
    EXPECT_EQ(c.at("same_host"), false);
    ASSERT_EQ(c.at("cells").size(), 1u) << j.out;
    EXPECT_EQ(c["cells"][0]["verdict"], "slower") << j.out;
    EXPECT_EQ(c["cells"][0]["regression"], false) << j.out;
    EXPECT_EQ(c.at("regressions"), 0) << j.out;
    EXPECT_EQ(c.at("exit_code"), 0);

    // With --gate it gates.
    const CliResult gated = compare({results("base").string(), other.string(), "--gate"});
    EXPECT_EQ(gated.exit_code, 5) << gated.out << gated.describe();
    EXPECT_TRUE(contains(gated.out, "slower REGRESSION")) << gated.out;
    EXPECT_TRUE(contains(gated.out, "1 regression(s)")) << gated.out;
}

TEST_F(CompareE2E, NotAResultsDocumentExitsTwoNamingTheFile) {
    ASSERT_NO_FATAL_FAILURE(expect_made({"base"}));
    const fs::path random = root_ / "random.json";
    write_file_atomically(random, R"({"answer": 42, "cells": "no"})");
    const fs::path plan = root_ / "base" / "plan.json";
    ASSERT_TRUE(fs::exists(plan)) << "the run directory has no plan.json to try";
    for (const fs::path& bad : {random, plan}) {
        for (const bool bad_is_base : {true, false}) {
            const std::string b = bad_is_base ? bad.string() : results("base").string();
            const std::string c = bad_is_base ? results("base").string() : bad.string();
            const CliResult r = compare({b, c});
            EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out << r.describe();
            const auto err = lines(r.err);
            ASSERT_EQ(err.size(), 1u) << bad << ": " << r.err;
            EXPECT_TRUE(contains(err[0], bad.string())) << err[0];
            EXPECT_EQ(r.out, "") << bad;
        }
    }
}

TEST_F(CompareE2E, NothingComparableExitsTwo) {
    ASSERT_NO_FATAL_FAILURE(expect_made({"base"}));
    // Another workload: no cell matches (and sleeping adds nothing to show here).
    const CliResult other = run("other_workload", 0, "rwkv6-tiny");
    ASSERT_EQ(other.exit_code, 0) << other.describe();
    const CliResult r = compare({results("base").string(), results("other_workload").string()});
    EXPECT_EQ(r.exit_code, 2) << r.out << r.describe();
    EXPECT_TRUE(contains(r.err, "nothing comparable")) << r.err;
    EXPECT_TRUE(contains(r.out, "0 comparable cell(s)")) << r.out;
    EXPECT_TRUE(contains(r.out, "missing")) << r.out;  // the base's cell, only in BASE
    EXPECT_TRUE(contains(r.out, "new")) << r.out;      // and the other, only in CAND
}

}  // namespace
