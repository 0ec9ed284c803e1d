// `rwkvbench logits` end to end: the real binary, the golden plugin, a fixture, the output file
// compared with the official logits; and the one-line errors with their exit codes.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <gtest/gtest.h>

#include "golden_util.hpp"
#include "run_cli.hpp"
#include "tokens.hpp"

namespace rwkvb::test {
namespace {

// Lines written to stdout and stderr together.
long lines(const CliResult& r) {
    return std::count(r.out.begin(), r.out.end(), '\n') + std::count(r.err.begin(), r.err.end(), '\n');
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
            const CliResult r = run_cli({"logits", "--backend", "reference", "--model", c.model.string(), "--tokens",
                                         c.golden.string(), "--mode", mode, "-o", out.string()});
            ASSERT_EQ(r.exit_code, 0) << r.describe();
            const auto got = SafetensorsFile::open(out);
            const auto ref = SafetensorsFile::open(c.golden);
            EXPECT_EQ(read_tokens(out, c.vocab_size), read_tokens(c.golden, c.vocab_size));
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
    const auto& c = fixture_cases().front();
    const fs::path a = temp_out("a"), b = temp_out("b");
    const std::vector<std::string> base{"logits", "--backend", "reference", "--model", c.model.string(),
                                        "--tokens", "50", "--seed", "9"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> args = base;
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    };
    ASSERT_EQ(run_cli(with({"--chunk", "7", "--threads", "1", "-o", a.string()})).exit_code, 0);
    ASSERT_EQ(run_cli(with({"--mode", "sequential", "-o", b.string()})).exit_code, 0);
    const auto fa = SafetensorsFile::open(a), fb = SafetensorsFile::open(b);
    EXPECT_EQ(read_tokens(a, c.vocab_size).size(), 50u);
    EXPECT_EQ(read_tokens(a, c.vocab_size), read_tokens(b, c.vocab_size));
    const auto la = read_f64(fa, "logits"), lb = read_f64(fb, "logits");
    const int V = static_cast<int>(fa.at("logits").shape[1]);
    for (size_t t = 0; t * V < la.size(); ++t) EXPECT_LE(rel_l2(&la[t * V], &lb[t * V], V), 1e-12);
    fs::remove(a);
    fs::remove(b);
}

TEST(ReferenceCli, BadInputExitsTwoWithOneLine) {
    const auto& c = fixture_cases().front();
    const std::string out = temp_out("bad").string(), model = c.model.string();
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"logits", "--backend", "no-such-backend", "--model", model, "--tokens", "10", "-o", out},
             {"logits", "--backend", "reference", "--model", "/no/such/model.safetensors", "--tokens", "10", "-o", out},
             {"logits", "--backend", "reference", "--model", model, "--tokens", "not-a-file", "-o", out},
             {"logits", "--backend", "reference", "--model", model, "--tokens", "10", "--dtype", "int8", "-o", out},
             {"logits", "--backend", "reference", "--model", model, "--tokens", "10", "--dtype", "f16", "-o", out},
             {"logits", "--backend", "reference", "--model", model, "--tokens", model, "-o", out}}) {
        SCOPED_TRACE(args[2] + " " + args[4] + " " + args[6] + " " + args[7]);
        const CliResult r = run_cli(args);
        EXPECT_EQ(r.exit_code, 2) << r.describe();
        EXPECT_EQ(lines(r), 1) << r.out << r.err;
        EXPECT_FALSE(fs::exists(out));
    }
    const CliResult unknown =
        run_cli({"logits", "--backend", "no-such-backend", "--model", model, "--tokens", "10", "-o", out});
    EXPECT_NE((unknown.out + unknown.err).find("no-such-backend"), std::string::npos);
    // The golden offers only what it computes with (float64 arithmetic on f32/f64 weights).
    const CliResult half =
        run_cli({"logits", "--backend", "reference", "--model", model, "--tokens", "10", "--dtype", "bf16", "-o", out});
    EXPECT_NE((half.out + half.err).find("offers f64, f32"), std::string::npos) << half.describe();
}

}  // namespace
}  // namespace rwkvb::test
