#include "e2e_cli.hpp"

#include "io/atomic_file.hpp"
#include "run/worker_process.hpp"

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace e2e {

std::string CliResult::describe() const {
    std::string s = signal ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(exit_code);
    if (timed_out) s += " (timed out)";
    const size_t keep = 6000;
    s += "\n--- stderr (tail) ---\n" + (err.size() > keep ? err.substr(err.size() - keep) : err);
    return s;
}

CliResult rwkvbench(const std::vector<std::string>& env_args, const std::vector<std::string>& args,
                    const fs::path& scratch, double timeout_s) {
    const fs::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
    // The shell only redirects; every argument reaches env(1) and rwkvbench unchanged.
    std::vector<std::string> sh = {"-c", "exec env \"$@\" > '" + out.string() + "' 2> '" + err.string() + "'",
                                   "rwkvbench-e2e"};
    sh.insert(sh.end(), env_args.begin(), env_args.end());
    sh.push_back(RWKVB_BINARY);
    sh.insert(sh.end(), args.begin(), args.end());
    const rwkvb::ProcessOutcome o = rwkvb::run_process("/bin/sh", sh, rwkvb::WorkerLimits{timeout_s, 0});
    CliResult r;
    r.exit_code = o.exit_code;
    r.signal = o.signal;
    r.timed_out = o.timed_out;
    r.wall_s = o.wall_s;
    std::error_code ec;
    if (fs::exists(out, ec)) r.out = rwkvb::read_file(out);
    if (fs::exists(err, ec)) r.err = rwkvb::read_file(err);
    return r;
}

Scratch::Scratch() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(RWKVB_E2E_WORK_DIR) / (std::string(info->test_suite_name()) + "." + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
}

Scratch::~Scratch() {
    // Kept on failure: results.json and the run directory say what went wrong.
    if (!::testing::Test::HasFailure()) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

nlohmann::json read_json(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        ADD_FAILURE() << path << " was not written";
        return nlohmann::json::object();
    }
    const auto doc = nlohmann::json::parse(rwkvb::read_file(path), nullptr, false);
    if (doc.is_discarded()) {
        ADD_FAILURE() << path << " is not valid JSON";
        return nlohmann::json::object();
    }
    return doc;
}

std::map<std::string, nlohmann::json> cells_by_id(const nlohmann::json& doc) {
    std::map<std::string, nlohmann::json> m;
    if (!doc.contains("cells") || !doc["cells"].is_array()) {
        ADD_FAILURE() << "results document without a cells array";
        return m;
    }
    for (const auto& c : doc["cells"]) m[c.at("id").get<std::string>()] = c;
    return m;
}

std::string status_of(const nlohmann::json& cell) {
    const std::string status = cell.value("status", std::string("(no status)"));
    const std::string detail = cell.value("status_detail", std::string());
    return status == "ok" || detail.empty() ? status : detail;
}

const std::vector<std::pair<std::string, std::string>>& tiny_presets() {
    static const std::vector<std::pair<std::string, std::string>> p = {
        {"rwkv4-tiny", "4"}, {"rwkv5.0-tiny", "5.0"}, {"rwkv5.1-tiny", "5.1"},
        {"rwkv5-tiny", "5.2"}, {"rwkv6-tiny", "6"},   {"rwkv7-tiny", "7"}};
    return p;
}

std::string joined_tiny_presets() {
    std::string s;
    for (const auto& [name, version] : tiny_presets()) s += (s.empty() ? "" : ",") + name;
    return s;
}

std::vector<std::string> cache_env(const fs::path& cache_dir) {
    return {"RWKVBENCH_CACHE_DIR=" + cache_dir.string(), "POCL_CACHE_DIR=" + (cache_dir / "pocl").string()};
}

}  // namespace e2e
