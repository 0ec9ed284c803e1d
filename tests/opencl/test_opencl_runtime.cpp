// The plugin's behaviour outside the numerics: devices, options, errors, the binary cache, the
// no-platform case, memory accounting and bad input.
#include "cl_common.hpp"
#include "ocl_test_util.hpp"
#include "run_cli.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace rwkvb::ocltest {
namespace {

namespace fs = std::filesystem;

TEST(OpenclErrorNames, KnownAndUnknownCodes) {
    EXPECT_EQ(ocl::cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    EXPECT_EQ(ocl::cl_error_name(-5), "CL_OUT_OF_RESOURCES");
    EXPECT_EQ(ocl::cl_error_name(CL_MEM_OBJECT_ALLOCATION_FAILURE), "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    EXPECT_EQ(ocl::cl_error_name(CL_INVALID_WORK_GROUP_SIZE), "CL_INVALID_WORK_GROUP_SIZE");
    EXPECT_EQ(ocl::cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    EXPECT_EQ(ocl::cl_error_name(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
    EXPECT_EQ(ocl::cl_error_name(-9999), "CL error -9999");
    const cl::Error e(CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel");
    EXPECT_EQ(ocl::describe(e), "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5)");
}

TEST(OpenclDevices, DescribedFully) {
    auto p = opencl_plugin();
    EXPECT_EQ(p->name(), "opencl");
    const int n = p->device_count();
    ASSERT_GE(n, 1) << "PoCL should provide a CPU device here: " << p->table().last_error(nullptr);
    for (int d = 0; d < n; ++d) {
        const rwkvb_device_info info = p->device_info(d);
        const std::string desc = info.description;
        EXPECT_GT(std::string(info.name).size(), 0u);
        EXPECT_GT(std::string(info.driver_version).size(), 0u);
        EXPECT_NE(desc.find("platform:"), std::string::npos) << desc;
        EXPECT_NE(desc.find("OpenCL C"), std::string::npos) << desc;
        EXPECT_NE(desc.find("fp16"), std::string::npos) << desc;
        EXPECT_NE(desc.find("fp64"), std::string::npos) << desc;
        EXPECT_GT(info.compute_units, 0);
        EXPECT_GT(info.memory_bytes, 0u);
        EXPECT_EQ(info.logits_dtype, RWKVB_F32);
        EXPECT_TRUE(info.weight_dtypes & RWKVB_DTYPE_BIT(RWKVB_F32));
        EXPECT_EQ(info.compute_dtypes, RWKVB_DTYPE_BIT(RWKVB_F32));
        // f16 weights everywhere (stored half, widened by vload_half: core OpenCL 1.2).
        EXPECT_NE(info.weight_dtypes & RWKVB_DTYPE_BIT(RWKVB_F16), 0u) << desc;
    }
    rwkvb_device_info info;
    EXPECT_EQ(p->table().device_info(n, &info), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(p->table().last_error(nullptr)).find("no device opencl:"), std::string::npos);
}

// ocl_probe loads the plugin in a child process (the ICD loader reads OCL_ICD_VENDORS once).
test::CliResult run_probe(const std::vector<std::string>& env) {
    return test::run_program(RWKVB_OCL_PROBE, {RWKVB_PLUGIN_DIR "/librwkvb_opencl.so"}, {.timeout_s = 120, .env = env});
}

TEST(OpenclNoPlatform, CountIsZeroWithAClearError) {
    const fs::path empty = fs::path(RWKVB_TEST_CACHE_DIR) / "empty-icd-vendors";
    fs::create_directories(empty);
    for (const auto& e : fs::directory_iterator(empty)) fs::remove_all(e.path());
    const test::CliResult probe = run_probe({"OCL_ICD_VENDORS=" + empty.string()});
    const std::string out = probe.out + probe.err;
    EXPECT_NE(out.find("status=0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("count=0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("error=no OpenCL platform found"), std::string::npos) << out;
    EXPECT_NE(out.find("info0_status=1\n"), std::string::npos) << out;
    EXPECT_NE(out.find("create_status=1\n"), std::string::npos) << out;
    EXPECT_EQ(probe.exit_code, 0) << probe.describe();
    // And with the real vendors the same probe finds the device.
    const test::CliResult found = run_probe({});
    const std::string ok = found.out + found.err;
    EXPECT_EQ(ok.find("count=0\n"), std::string::npos) << ok;
}

// The binary cache: first load writes <device>-<hash>.bin; the second load uses it (the file is
// not rewritten); a corrupt file is replaced by a good one.
TEST(OpenclBinaryCache, WrittenReusedAndRepaired) {
    const fs::path dir = fs::path(RWKVB_TEST_CACHE_DIR) / "bincache-test";
    fs::remove_all(dir);
    const GoldenCase f = load_case("rwkv7-tiny");
    auto load_once = [&] {
        Session s(opencl_plugin(), 0, "cache_dir=" + dir.string());
        const auto t0 = std::chrono::steady_clock::now();
        s.load(f.config, f.model->tensors(), DType::F32);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rwkvb_state* st = s.new_state(1);
        std::vector<float> out(f.V);
        s.forward(st, f.tokens.data(), 4, 1, out.data(), RWKVB_LOGITS_LAST);
        s.free_state(st);
        EXPECT_LE(rel_l2(out.data(), &f.logits[3 * static_cast<size_t>(f.V)], f.V), 2e-5);
        return secs;
    };
    const double first = load_once();
    std::vector<fs::path> bins;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().extension() == ".bin") bins.push_back(e.path());
    ASSERT_EQ(bins.size(), 1u);
    const std::string fname = bins[0].filename().string();
    EXPECT_EQ(fname.size() > 21 && fname[fname.size() - 21] == '-', true) << fname;  // "-<16 hex>.bin"
    const auto mtime = fs::last_write_time(bins[0]);
    const auto size = fs::file_size(bins[0]);
    EXPECT_GT(size, 0u);
    const double second = load_once();
    EXPECT_EQ(fs::last_write_time(bins[0]), mtime) << "cache hit must not rewrite the binary";
    std::printf("load with cold binary cache %.3f s, warm %.3f s\n", first, second);

    const std::string junk = "not a program binary";
    { std::ofstream(bins[0], std::ios::binary | std::ios::trunc) << junk; }
    load_once();
    // Not compared with the first size: PoCL's binary also carries the work-group functions in its
    // kernel cache, so with a cold PoCL cache the rebuilt binary is larger than the first one.
    EXPECT_GT(fs::file_size(bins[0]), junk.size()) << "a corrupt binary must be replaced";
    const auto repaired = fs::last_write_time(bins[0]);
    load_once();
    EXPECT_EQ(fs::last_write_time(bins[0]), repaired) << "the repaired binary must be a cache hit";

    // A different build (tile option) is a different key.
    {
        Session s(opencl_plugin(), 0, "cache_dir=" + dir.string() + ",tile=2x2");
        s.load(f.config, f.model->tensors(), DType::F32);
    }
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ".bin";
    EXPECT_EQ(n, 2u);
}

// Options: overrides give the same numbers; bad values are one-line errors.
TEST(OpenclOptions, OverridesAndBadValues) {
    const GoldenCase f = load_case("rwkv6-tiny");
    for (const char* opt : {"wg=16,tile=1x1,gemv_rows=1,gemv=group,ln_split=3" /* uneven row slices */,
                            "wg=64,vec=4,gemv=group" /* a GPU's sizes */,
                            "wg=128,tile=3x4,gemv_rows=64,gemv=row,threads=7,unknown=1,ln_split=1"}) {
        Session s(opencl_plugin(), 0, test_options(opt));
        s.load(f.config, f.model->tensors(), DType::F32);
        rwkvb_state* st = s.new_state(1);
        std::vector<float> out(static_cast<size_t>(f.T) * f.V);
        s.forward(st, f.tokens.data(), f.T, 1, out.data(), RWKVB_LOGITS_ALL);
        for (int t = 0; t < f.T; ++t)
            EXPECT_LE(rel_l2(&out[static_cast<size_t>(t) * f.V], &f.logits[static_cast<size_t>(t) * f.V], f.V), 2e-5)
                << opt << " step " << t;
        s.reset_state(st);  // and one token at a time (the gemv kernels)
        for (int t = 0; t < 6; ++t) {
            s.forward(st, &f.tokens[t], 1, 1, out.data(), RWKVB_LOGITS_LAST);
            EXPECT_LE(rel_l2(out.data(), &f.logits[static_cast<size_t>(t) * f.V], f.V), 2e-5) << opt << " decode " << t;
        }
        s.free_state(st);
    }
    auto p = opencl_plugin();
    for (const char* bad : {"wg=3", "wg=abc", "tile=4", "tile=0x2", "cache_dir=", "gemv=fast", "ln_split=0"}) {
        rwkvb_context* ctx = nullptr;
        EXPECT_EQ(p->table().create(0, bad, &ctx), RWKVB_ERR_INVALID_ARGUMENT) << bad;
        EXPECT_EQ(ctx, nullptr);
        const std::string err = p->table().last_error(nullptr);
        EXPECT_NE(err.find("option"), std::string::npos) << err;
        EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    }
}

TEST(OpenclMemory, WeightsStateWorkspaceAccounted) {
    const GoldenCase f = load_case("rwkv7-small");
    Session s(opencl_plugin(), 0, test_options());
    s.load(f.config, f.model->tensors(), DType::F32);
    const rwkvb_memory m0 = s.memory_usage();
    // Every tensor but the embedding (gathered on the host) lives on the device as f32.
    uint64_t expect = 0;
    for (const auto& t : f.model->tensors())
        if (t.name != "emb.weight") expect += t.nbytes;
    EXPECT_GE(m0.weights, expect * 9 / 10);
    EXPECT_LE(m0.weights, expect * 11 / 10);
    EXPECT_EQ(m0.state, 0u);
    rwkvb_state* st = s.new_state(2);
    const rwkvb_memory m1 = s.memory_usage();
    const auto& c = f.config;
    const uint64_t per_stream = 4ull * c.n_layer * (2 * c.n_embd + c.n_head * c.head_size * c.head_size);
    EXPECT_EQ(m1.state, 2 * per_stream);
    std::vector<float> out(static_cast<size_t>(2) * 8 * f.V);
    std::vector<int32_t> toks(16, 1);
    s.forward(st, toks.data(), 8, 2, out.data(), RWKVB_LOGITS_ALL);
    const rwkvb_memory m2 = s.memory_usage();
    EXPECT_GT(m2.workspace, 0u);
    EXPECT_GE(m2.peak, m2.weights + m2.state + m2.workspace);
    s.free_state(st);
    EXPECT_EQ(s.memory_usage().state, 0u);
}

TEST(OpenclBadInput, OneLineErrorsNoCrash) {
    const GoldenCase f = load_case("rwkv5-tiny");
    auto p = opencl_plugin();
    const auto& t = p->table();
    Session s(p, 0, test_options());
    rwkvb_state* st = nullptr;
    EXPECT_EQ(t.state_new(s.context(), 1, &st), RWKVB_ERR_INVALID_ARGUMENT);  // no model yet
    // A tensor missing from the checkpoint.
    std::vector<rwkvb_tensor> ts = test::abi_tensors(f.model->tensors());
    std::erase_if(ts, [](const rwkvb_tensor& a) { return std::string(a.name) == "blocks.1.att.key.weight"; });
    EXPECT_EQ(t.load(s.context(), &f.config, ts.data(), ts.size(), RWKVB_F32), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(t.last_error(s.context())).find("blocks.1.att.key.weight"), std::string::npos)
        << t.last_error(s.context());

    Session ok(p, 0, test_options());
    EXPECT_EQ(t.load(ok.context(), &f.config, ts.data(), 0, RWKVB_I8), RWKVB_ERR_UNSUPPORTED);
    ok.load(f.config, f.model->tensors(), DType::F32);
    ASSERT_EQ(t.state_new(ok.context(), 2, &st), RWKVB_OK);
    std::vector<float> out(static_cast<size_t>(2) * f.V);
    const int32_t bad[2] = {0, f.V};
    EXPECT_EQ(t.forward(ok.context(), st, bad, 1, 2, out.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(t.last_error(ok.context())).find("outside the vocabulary"), std::string::npos);
    const int32_t good[2] = {0, 1};
    EXPECT_EQ(t.forward(ok.context(), st, good, 1, 1, out.data(), RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ok.context(), st, good, 1, 2, nullptr, RWKVB_LOGITS_LAST), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ok.context(), st, good, 1, 2, out.data(), 7), RWKVB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(t.forward(ok.context(), st, good, 1, 2, out.data(), RWKVB_LOGITS_LAST), RWKVB_OK);
    EXPECT_EQ(std::string(t.last_error(ok.context())).find('\n'), std::string::npos);
    t.state_free(ok.context(), st);
}

}  // namespace
}  // namespace rwkvb::ocltest
