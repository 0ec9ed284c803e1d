// sysinfo, limits (small shapes: correctness of the plumbing, not performance) and the golden
// cache's checkpoint digest.
#include "parity/golden_cache.hpp"
#include "io/sha256.hpp"
#include "measure/limits.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"
#include "measure/sysinfo.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace rwkvb {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("rwkvb-h2-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

TEST(SystemInfo, CollectsTheMachineAndMatchesTheSchema) {
    const json sys = collect_system_info();
    EXPECT_TRUE(sys["cpu"]["model"].is_string());
    EXPECT_GE(sys["cpu"]["logical_cpus"].get<int>(), 1);
    EXPECT_TRUE(sys["memory"]["total_bytes"].get<uint64_t>() > 0);
    EXPECT_FALSE(sys["build"]["compiler"].get<std::string>().empty());
    EXPECT_TRUE(sys["opencl"]["available"].is_boolean());
    if (!sys["opencl"]["available"]) {
        EXPECT_TRUE(sys["opencl"]["note"].is_string());
    }
#ifdef RWKVB_HAVE_ONEDNN
    EXPECT_TRUE(sys["onednn"]["available"].get<bool>());
    EXPECT_FALSE(sys["onednn"]["version"].get<std::string>().empty());
#endif
    const json schema = load_results_schema();
    EXPECT_TRUE(validate_json(sys, testing::sub_schema(schema, "system")).empty());
    const json load = host_load_snapshot();
    EXPECT_EQ(load["loadavg"].size(), 3u);
    EXPECT_TRUE(validate_json(load, testing::sub_schema(schema, "host_load")).empty()) << load.dump();
}

TEST(Limits, BandwidthAndGemmMeasurementsAreWellFormed) {
    const json bw = measure_read_bandwidth(32 << 20, 1, 3);
    EXPECT_EQ(bw["samples_gbps"].size(), 3u);
    EXPECT_GT(bw["max_gbps"].get<double>(), 0);
    EXPECT_GE(bw["max_gbps"].get<double>(), bw["median_gbps"].get<double>());
    EXPECT_EQ(bw["buffer_bytes"].get<uint64_t>(), uint64_t(32) << 20);
    const json gemm = measure_gemm_peak(128, 1, 2);
#ifdef RWKVB_HAVE_ONEDNN
    ASSERT_TRUE(gemm["available"].get<bool>());
    EXPECT_GT(gemm["max_gflops"].get<double>(), 0);
    EXPECT_EQ(gemm["samples_gflops"].size(), 2u);
#else
    EXPECT_FALSE(gemm["available"].get<bool>());
#endif
}

TEST(Limits, CacheIsReadAndNeverMeasuredWhenNotAsked) {
    TempDir tmp;
    EXPECT_TRUE(load_or_measure_limits(tmp.path, false, 3).empty());
    const fs::path p = limits_cache_path(tmp.path, 3);
    EXPECT_EQ(p.parent_path(), tmp.path / "limits");
    EXPECT_NE(p.filename().string().find("-t3-m2.json"), std::string::npos) << p;  // threads, method revision
    fs::create_directories(p.parent_path());
    // A fresh, quiet measurement (limits_staleness refuses old or contended ones).
    json cached = {{"schema", "rwkvbench-limits"}, {"memory_read_gbps", 12.5}, {"gemm_f32_gflops", 40},
                   {"measured_at", host_load_snapshot()["time"]},
                   {"measured_under", {{"foreign_cpu_cores", 0}, {"steal_cores", 0}, {"wall_s", 5}, {"bound_cores", 0.15},
                                       {"contended", false}}}};
    std::ofstream(p) << cached.dump();
    const json j = load_or_measure_limits(tmp.path, false, 3);
    EXPECT_EQ(j["memory_read_gbps"], 12.5);
    EXPECT_EQ(j["cache_path"], p.string());
    std::ofstream(p) << "{ not json";
    EXPECT_TRUE(load_or_measure_limits(tmp.path, false, 3).empty());  // damaged = missing
    EXPECT_TRUE(validate_json(j, testing::sub_schema(load_results_schema(), "limits")).empty());
}

// A cache edited to absurd ceilings would print "7.4e8 % of bandwidth": it counts as missing, so
// `run` measures again (or, with --skip-limits, states no fraction at all).
TEST(Limits, AbsurdCachedFiguresAreNotUsed) {
    TempDir tmp;
    const fs::path p = limits_cache_path(tmp.path, 3);
    fs::create_directories(p.parent_path());
    for (const char* doc : {R"({"schema": "rwkvbench-limits", "memory_read_gbps": 1e-9, "gemm_f32_gflops": 40})",
                            R"({"schema": "rwkvbench-limits", "memory_read_gbps": 12.5, "gemm_f32_gflops": 1e30})",
                            R"({"schema": "rwkvbench-limits", "memory_read_gbps": -3, "gemm_f32_gflops": null})",
                            R"({"schema": "rwkvbench-limits", "memory_read_gbps": "fast", "gemm_f32_gflops": 40})",
                            R"({"schema": "other", "memory_read_gbps": 12.5, "gemm_f32_gflops": 40})",
                            R"({"schema": 5, "memory_read_gbps": 12.5, "gemm_f32_gflops": 40})"}) {
        std::ofstream(p) << doc;
        EXPECT_TRUE(load_or_measure_limits(tmp.path, false, 3).empty()) << doc;
        EXPECT_FALSE(limits_implausibility(json::parse(doc)).empty()) << doc;
    }
    // No GEMM peak (built without oneDNN) is plausible.
    EXPECT_EQ(limits_implausibility(json::parse(R"({"schema": "rwkvbench-limits", "memory_read_gbps": 30, "gemm_f32_gflops": null})")), "");
}

TEST(GoldenCache, DigestFollowsContentNotPath) {
    TempDir tmp;
    const fs::path a = tmp.path / "a.bin", b = tmp.path / "b.bin";
    {
        std::ofstream fa(a, std::ios::binary), fb(b, std::ios::binary);
        for (int i = 0; i < 300000; ++i) fa.put(char(i * 7)), fb.put(char(i * 7));
    }
    EXPECT_EQ(sha256_file(a), sha256_file(b));
    EXPECT_EQ(sha256_file(a).size(), 64u);
    {  // every byte counts, not a sample
        std::fstream f(b, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(254321);
        f.put('y');
    }
    EXPECT_NE(sha256_file(a), sha256_file(b));
    EXPECT_THROW(sha256_file(tmp.path / "missing"), std::exception);
    // The FIPS 180-2 example: OpenSSL is wired the right way round.
    const std::string abc = "abc";
    EXPECT_EQ(sha256_hex(std::as_bytes(std::span(abc))),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(GoldenCache, KeyDependsOnEveryInput) {
    GoldenRequest r;
    r.model_sha256 = "m";
    r.reference_sha256 = "r";
    r.tokens = {1, 2, 3};
    r.steps = {0, 2};
    r.vocab = 8;
    const auto k = golden_key(r);
    EXPECT_EQ(k, golden_key(r));
    auto changed = [&](auto edit) {
        GoldenRequest c = r;
        edit(c);
        return golden_key(c);
    };
    EXPECT_NE(k, changed([](GoldenRequest& c) { c.model_sha256 = "n"; }));
    EXPECT_NE(k, changed([](GoldenRequest& c) { c.reference_sha256 = "s"; }));
    EXPECT_NE(k, changed([](GoldenRequest& c) { c.tokens = {1, 2, 4}; }));
    EXPECT_NE(k, changed([](GoldenRequest& c) { c.tokens = {1, 2}; }));
    EXPECT_NE(k, changed([](GoldenRequest& c) { c.steps = {0, 1}; }));
    // Path and thread count are not part of it: the same bytes give the same golden.
    EXPECT_EQ(k, changed([](GoldenRequest& c) { c.model = "/elsewhere/model.safetensors"; c.threads = 3; }));
}

}  // namespace
}  // namespace rwkvb
