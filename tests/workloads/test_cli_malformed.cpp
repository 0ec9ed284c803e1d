// The real CLI on malformed model files: `rwkvbench logits --backend reference --model <bad>`
// must exit 2 with one stderr line naming the file, never crash, hang or leave an output file.
#include "malformed_corpus.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace rwkvb {
namespace {

struct Outcome {
    bool exited = false;
    int code = -1;      // exit status when exited
    int signal = 0;     // terminating signal otherwise
    bool timed_out = false;
    std::string err;    // everything written to stderr
};

// Runs argv (no shell) with stdout discarded and stderr captured in a file; kills after 60 s.
Outcome run(const std::vector<std::string>& args, const std::filesystem::path& stderr_path) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    Outcome o;
    if (rc != 0) {
        o.err = "posix_spawn failed: " + std::string(std::strerror(rc));
        return o;
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            o.timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status)) {
        o.exited = true;
        o.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        o.signal = WTERMSIG(status);
    }
    std::ifstream f(stderr_path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    o.err = ss.str();
    return o;
}

TEST(CliMalformedModel, LogitsRefusesEveryCorpusFileWithExit2AndOneLine) {
    ASSERT_TRUE(std::filesystem::exists(RWKVB_BINARY)) << RWKVB_BINARY;
    testing::TempDir dir;
    const auto corpus_dir = dir.path() / "corpus";
    std::filesystem::create_directory(corpus_dir);
    const auto corpus = testing::write_malformed_corpus(corpus_dir);
    for (const auto& m : corpus) {
        SCOPED_TRACE(m.label);
        const auto out = dir.path() / ("out_" + m.label + ".safetensors");
        const Outcome o = run({RWKVB_BINARY, "logits", "--backend", "reference", "--model", m.path.string(),
                               "--tokens", "4", "-o", out.string()},
                              dir.path() / "stderr.txt");
        EXPECT_FALSE(o.timed_out);
        EXPECT_EQ(o.signal, 0) << "killed by signal " << o.signal << "; stderr: " << o.err;
        EXPECT_TRUE(o.exited);
        EXPECT_EQ(o.code, 2) << "stderr: " << o.err;
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
