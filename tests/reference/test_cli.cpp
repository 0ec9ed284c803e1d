// `rwkvbench logits` end to end: the real binary, the golden plugin, a fixture, the output file
// compared with the official logits; and the one-line errors with their exit codes.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include <gtest/gtest.h>

#include "golden_util.hpp"

namespace rwkvb::test {
namespace {

struct Result {
    int code = -1;
    std::string output;  // stdout and stderr
};

Result run(const std::string& args) {
    const std::string cmd = std::string(RWKVB_BINARY) + " " + args + " 2>&1";
    Result r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
    const int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

fs::path temp_out(const std::string& tag) {
    return fs::temp_directory_path() / ("rwkvb_ref_cli_" + tag + "_" + std::to_string(getpid()) + ".safetensors");
}

TEST(ReferenceCli, LogitsOfEachVersionMatchTheOfficialGolden) {
    for (const auto& c : fixture_cases()) {
        if (c.name.find("tiny") == std::string::npos) continue;
        for (const std::string mode : {"sequence", "sequential"}) {
            SCOPED_TRACE(c.name + " " + mode);
            const fs::path out = temp_out(c.name + mode);
            const Result r = run("logits --backend reference --model " + c.model.string() + " --tokens " +
                                 c.golden.string() + " --mode " + mode + " -o " + out.string());
            ASSERT_EQ(r.code, 0) << r.output;
            const auto got = SafetensorsFile::open(out);
            const auto ref = SafetensorsFile::open(c.golden);
            EXPECT_EQ(read_i32(got, "tokens"), read_i32(ref, "tokens"));
            EXPECT_EQ(got.metadata().at("backend"), "reference");
            EXPECT_EQ(got.metadata().at("mode"), mode);
            const auto g = read_f64(got, "logits"), o = read_f64(ref, "logits");
            ASSERT_EQ(g.size(), o.size());
            const int V = static_cast<int>(got.at("logits").shape[1]);
            for (size_t t = 0; t * V < g.size(); ++t) ASSERT_LE(rel_l2(&g[t * V], &o[t * V], V), 1e-9) << "step " << t;
            fs::remove(out);
        }
    }
}

TEST(ReferenceCli, SyntheticTokensAndChunks) {
    const auto c = fixture_cases().front();
    const fs::path a = temp_out("a"), b = temp_out("b");
    const std::string base = "logits --backend reference --model " + c.model.string() + " --tokens 50 --seed 9 ";
    ASSERT_EQ(run(base + "--chunk 7 --threads 1 -o " + a.string()).code, 0);
    ASSERT_EQ(run(base + "--mode sequential -o " + b.string()).code, 0);
    const auto fa = SafetensorsFile::open(a), fb = SafetensorsFile::open(b);
    EXPECT_EQ(read_i32(fa, "tokens").size(), 50u);
    EXPECT_EQ(read_i32(fa, "tokens"), read_i32(fb, "tokens"));
    const auto la = read_f64(fa, "logits"), lb = read_f64(fb, "logits");
    const int V = static_cast<int>(fa.at("logits").shape[1]);
    for (size_t t = 0; t * V < la.size(); ++t) EXPECT_LE(rel_l2(&la[t * V], &lb[t * V], V), 1e-12);
    fs::remove(a);
    fs::remove(b);
}

TEST(ReferenceCli, BadInputExitsTwoWithOneLine) {
    const auto c = fixture_cases().front();
    const fs::path out = temp_out("bad");
    const std::string model = " --model " + c.model.string();
    for (const std::string& args :
         {"logits --backend no-such-backend" + model + " --tokens 10 -o " + out.string(),
          "logits --backend reference --model /no/such/model.safetensors --tokens 10 -o " + out.string(),
          "logits --backend reference" + model + " --tokens not-a-file -o " + out.string(),
          "logits --backend reference" + model + " --tokens 10 --dtype int8 -o " + out.string(),
          "logits --backend reference" + model + " --tokens 10 --dtype f16 -o " + out.string(),
          "logits --backend reference" + model + " --tokens " + c.model.string() + " -o " + out.string()}) {
        SCOPED_TRACE(args);
        const Result r = run(args);
        EXPECT_EQ(r.code, 2) << r.output;
        EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
        EXPECT_FALSE(fs::exists(out));
    }
    const Result unknown = run("logits --backend no-such-backend" + model + " --tokens 10 -o " + out.string());
    EXPECT_NE(unknown.output.find("no-such-backend"), std::string::npos);
    // The golden offers only what it computes with (float64 arithmetic on f32/f64 weights).
    const Result half = run("logits --backend reference" + model + " --tokens 10 --dtype bf16 -o " + out.string());
    EXPECT_NE(half.output.find("offers f64, f32"), std::string::npos) << half.output;
}

}  // namespace
}  // namespace rwkvb::test
