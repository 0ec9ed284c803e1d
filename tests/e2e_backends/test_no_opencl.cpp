// Issue 5, item 6: with no OpenCL platform at run time, `list` says so and the default run
// skips the OpenCL backend with a note, runs the others, and never crashes. The ICD loader is
// pointed at an empty vendors directory (and any forced ICD file is dropped).
#include "e2e_cli.hpp"

#include <gtest/gtest.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kNoPlatform = "no OpenCL platform found";

std::vector<std::string> no_opencl_env(const e2e::Scratch& scratch) {
    const fs::path empty = scratch / "empty-icd-vendors";
    fs::create_directories(empty);
    auto env = e2e::cache_env(RWKVB_E2E_CACHE_DIR);
    env.insert(env.begin(), {"-u", "OCL_ICD_FILENAMES"});
    env.push_back("OCL_ICD_VENDORS=" + empty.string());
    return env;
}

}  // namespace

TEST(E2ENoOpenclPlatform, ListSaysSoAndExitsZero) {
    e2e::Scratch scratch;
    const auto env = no_opencl_env(scratch);

    const auto table = e2e::rwkvbench(env, {"list"}, scratch.dir(), 120);
    ASSERT_EQ(table.signal, 0) << table.describe();
    EXPECT_EQ(table.exit_code, 0) << table.describe();
    EXPECT_NE(table.out.find(std::string("opencl: ") + kNoPlatform), std::string::npos) << table.out;

    const auto js = e2e::rwkvbench(env, {"list", "--format", "json"}, scratch.dir(), 120);
    ASSERT_EQ(js.signal, 0) << js.describe();
    EXPECT_EQ(js.exit_code, 0) << js.describe();
    const json doc = json::parse(js.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << js.out;
    std::map<std::string, json> plugins;
    for (const auto& p : doc.at("plugins")) plugins[p.value("name", std::string())] = p;
    ASSERT_TRUE(plugins.count("opencl")) << js.out;
    EXPECT_EQ(plugins["opencl"]["abi_ok"], true);
    EXPECT_TRUE(plugins["opencl"]["devices"].empty());
    EXPECT_NE(plugins["opencl"].value("note", std::string()).find(kNoPlatform), std::string::npos)
        << plugins["opencl"].dump();
    // The other backends are listed as usual.
    ASSERT_TRUE(plugins.count("onednn")) << js.out;
    EXPECT_EQ(plugins["onednn"]["devices"].size(), 1u);
}

TEST(E2ENoOpenclPlatform, DefaultRunSkipsOpenclWithANoteAndRunsOnednn) {
    e2e::Scratch scratch;
    // The default backend selection ("all"): no --backend.
    const auto r = e2e::rwkvbench(no_opencl_env(scratch),
                                  {"run", "--skip-limits", "--workload", "rwkv7-tiny", "--scenario", "decode", "--tokens",
                                   "4", "--repetitions", "1", "--min-time", "0", "--target-ci", "0", "--dir", (scratch / "run").string()},
                                  scratch.dir(), 300);
    ASSERT_EQ(r.signal, 0) << r.describe();
    EXPECT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_NE(r.err.find(std::string("note: opencl: no device here: ") + kNoPlatform), std::string::npos) << r.err;

    const auto cells = e2e::cells_by_id(e2e::read_json(scratch / "run" / "results.json"));
    ASSERT_TRUE(cells.count("onednn.0.rwkv7-tiny.decode.f32")) << r.err;
    EXPECT_EQ(e2e::status_of(cells.at("onednn.0.rwkv7-tiny.decode.f32")), "ok");
    for (const auto& [id, c] : cells) {
        EXPECT_NE(c["spec"]["backend"], "opencl") << id;
        EXPECT_EQ(e2e::status_of(c), "ok") << id;
    }
}
