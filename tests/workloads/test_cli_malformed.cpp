// The real CLI on malformed model files: `rwkvbench logits --backend reference --model <bad>`
// must exit 2 with one stderr line naming the file, never crash, hang or leave an output file.
#include "malformed_corpus.hpp"
#include "run_cli.hpp"

#include <gtest/gtest.h>

namespace rwkvb {
namespace {

TEST(CliMalformedModel, LogitsRefusesEveryCorpusFileWithExit2AndOneLine) {
    ASSERT_TRUE(std::filesystem::exists(RWKVB_BINARY)) << RWKVB_BINARY;
    testing::TempDir dir;
    const auto corpus_dir = dir.path() / "corpus";
    std::filesystem::create_directory(corpus_dir);
    const auto corpus = testing::write_malformed_corpus(corpus_dir);
    for (const auto& m : corpus) {
        SCOPED_TRACE(m.label);
        const auto out = dir.path() / ("out_" + m.label + ".safetensors");
        const test::CliResult o = test::run_cli(
            {"logits", "--backend", "reference", "--model", m.path.string(), "--tokens", "4", "-o", out.string()},
            {.timeout_s = 60, .env = {}});
        EXPECT_FALSE(o.timed_out);
        EXPECT_EQ(o.signal, 0) << "killed by signal " << o.signal << "; stderr: " << o.err;
        EXPECT_EQ(o.exit_code, 2) << "stderr: " << o.err;
        // Exactly one line, ending in a newline, naming the file.
        ASSERT_FALSE(o.err.empty());
        EXPECT_EQ(o.err.back(), '\n') << o.err;
        EXPECT_EQ(o.err.find('\n'), o.err.size() - 1) << "more than one line:\n" << o.err;
        EXPECT_NE(o.err.find(m.path.string()), std::string::npos) << o.err;
        EXPECT_FALSE(std::filesystem::exists(out)) << "output written for a bad model";
    }
}

}  // namespace
}  // namespace rwkvb
