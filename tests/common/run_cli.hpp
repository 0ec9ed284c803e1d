// Running a program as a child process in tests: argument vector (no shell), stdin from
// /dev/null, stdout and stderr captured separately and completely, a wall-clock timeout after
// which the child's whole process group is killed. (The harness's run_process keeps only a
// 4 KiB tail of both streams together, which is right for workers but not for asserting on
// output.)
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb::test {

struct CliResult {
    int exit_code = -1;      // when it exited; -1 if a signal ended it
    int signal = 0;          // terminating signal, 0 if it exited
    bool timed_out = false;  // killed by us at the timeout
    std::string out, err;    // everything written to stdout and to stderr
    // "exit 2" / "signal 11 (Segmentation fault)" / "timed out", then stderr: for messages.
    std::string describe() const;
};

struct RunOptions {
    double timeout_s = 120;
    std::vector<std::string> env;  // "NAME=value" added to (or replacing in) our environment
};

CliResult run_program(const std::filesystem::path& exe, const std::vector<std::string>& args,
                      const RunOptions& options = {});
// The rwkvbench binary of this build.
CliResult run_cli(const std::vector<std::string>& args, const RunOptions& options = {});

}  // namespace rwkvb::test
