// Running the real rwkvbench binary for the backend end-to-end tests: environment, scratch
// directory, captured stdout/stderr, and the results document indexed by cell.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace e2e {

struct CliResult {
    int exit_code = -1;  // valid when signal == 0
    int signal = 0;
    bool timed_out = false;
    double wall_s = 0;
    std::string out, err;  // whole stdout and stderr
    std::string describe() const;  // exit status and the tail of stderr, for failure messages
};

// Runs `rwkvbench args...` through env(1): `env_args` are passed to env verbatim before the
// binary ("NAME=value", or "-u", "NAME"). stdout/stderr go to files in `scratch`.
CliResult rwkvbench(const std::vector<std::string>& env_args, const std::vector<std::string>& args,
                    const std::filesystem::path& scratch, double timeout_s);

// A fresh directory for the running test under the build tree; kept when the test fails.
class Scratch {
public:
    Scratch();
    ~Scratch();
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path operator/(const std::string& name) const { return dir_ / name; }

private:
    std::filesystem::path dir_;
};

// The results document's cells by id; fails the test (and returns empty) if it does not parse.
std::map<std::string, nlohmann::json> cells_by_id(const nlohmann::json& doc);
nlohmann::json read_json(const std::filesystem::path& path);

// "ok", or the cell's status detail (e.g. "crashed(SIGSEGV)") when it is not.
std::string status_of(const nlohmann::json& cell);

// The tiny test-shape presets: one per RWKV version (4, 5.0, 5.1, 5.2, 6, 7) and that version
// as the model record spells it.
const std::vector<std::pair<std::string, std::string>>& tiny_presets();
std::string joined_tiny_presets();

// The environment of every run: a private cache (synthetic weights, golden logits, OpenCL
// program binaries, PoCL's kernel cache) under `cache_dir`.
std::vector<std::string> cache_env(const std::filesystem::path& cache_dir);

}  // namespace e2e
