// sysinfo, limits (small shapes: correctness of the plumbing, not performance) and the golden
// cache's checkpoint digest.
#include "golden_cache.hpp"
#include "limits.hpp"
#include "sample_document.hpp"
#include "schema_validator.hpp"
#include "sysinfo.hpp"

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
    std::ofstream(p) << R"({"schema": "rwkvbench-limits", "memory_read_gbps": 12.5, "gemm_f32_gflops": 40})";
    const json j = load_or_measure_limits(tmp.path, false, 3);
    EXPECT_EQ(j["memory_read_gbps"], 12.5);
    EXPECT_EQ(j["cache_path"], p.string());
    std::ofstream(p) << "{ not json";
    EXPECT_TRUE(load_or_measure_limits(tmp.path, false, 3).empty());  // damaged = missing
    EXPECT_TRUE(validate_json(j, testing::sub_schema(load_results_schema(), "limits")).empty());
}

TEST(GoldenCache, DigestFollowsContentNotPath) {
    TempDir tmp;
    const auto a = tmp.path / "a.bin", b = tmp.path / "b.bin";
    std::ofstream(a) << std::string(100000, 'x');
    fs::copy_file(a, b);
    EXPECT_EQ(checkpoint_digest(a), checkpoint_digest(b));
    EXPECT_EQ(checkpoint_digest(a).size(), 32u);
    {
        std::fstream f(b, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(54321);
        f.put('y');
    }
    EXPECT_NE(checkpoint_digest(a), checkpoint_digest(b));
    EXPECT_THROW(checkpoint_digest(tmp.path / "missing"), std::exception);
}

// Above 512 MiB only sampled blocks are hashed (the documented trade-off). A sparse file keeps
// this cheap: 64 MiB are read, nothing is written to disk.
TEST(GoldenCache, LargeFilesHashSampledBlocks) {
    TempDir tmp;
    const auto p = tmp.path / "big.bin";
    const uint64_t size = uint64_t(600) << 20;
    { std::ofstream(p).put('\0'); }
    fs::resize_file(p, size);
    const std::string d0 = checkpoint_digest(p);
    auto poke = [&](uint64_t off) {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(std::streamoff(off));
        f.put('z');
    };
    poke(10);  // inside the first block (the safetensors header lives there)
    const std::string d1 = checkpoint_digest(p);
    EXPECT_NE(d0, d1);
    poke(size - 10);  // inside the last block
    EXPECT_NE(d1, checkpoint_digest(p));
}

TEST(GoldenCache, KeyDependsOnEveryInput) {
    const std::vector<int32_t> t1 = {1, 2, 3}, t2 = {1, 2, 4};
    const auto k = golden_key("d", t1, "reference", "1.0");
    EXPECT_EQ(k, golden_key("d", t1, "reference", "1.0"));
    EXPECT_NE(k, golden_key("e", t1, "reference", "1.0"));
    EXPECT_NE(k, golden_key("d", t2, "reference", "1.0"));
    EXPECT_NE(k, golden_key("d", t1, "reference", "1.1"));
    EXPECT_NE(k, golden_key("d", std::vector<int32_t>{1, 2}, "reference", "1.0"));
}

}  // namespace
}  // namespace rwkvb
