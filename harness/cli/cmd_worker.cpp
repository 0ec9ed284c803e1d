// `rwkvbench worker --spec FILE --result FILE [--env FILE]`: runs one cell in this process and
// writes its record atomically. Started by `run` (worker_process.cpp), never by a person, so it
// is hidden from --help. Exit codes are the worker protocol of worker_process.hpp.
#include "io/atomic_file.hpp"
#include "run/cell.hpp"
#include "run/cell_guard.hpp"
#include "parity/cell_outputs.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "io/paths.hpp"
#include "io/untrusted_json.hpp"
#include "io/utf8.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

namespace rwkvb {
namespace {

struct WorkerArgs {
    std::string spec, result, env;
};

CellEnvironment read_environment(const std::string& env_file) {
    CellEnvironment env;
    if (!env_file.empty()) {
        const auto j = parse_untrusted_json(read_file(env_file));
        if (j.is_discarded() || !j.is_object() || (j.contains("cache_dir") && !j["cache_dir"].is_string()))
            throw InputError(fmt::format("{}: not a worker environment (a JSON object, its cache_dir a string, was "
                                         "expected)", env_file));
        env.cache_dir = j.value("cache_dir", std::string());
        if (auto it = j.find("limits"); it != j.end() && it->is_object()) env.limits = *it;
    }
    if (env.cache_dir.empty()) env.cache_dir = cache_dir();
    return env;
}

int run_worker(const WorkerArgs& a_in) {
    // Resolved before any plugin code runs: a plugin that chdir()s must not move the record.
    WorkerArgs a = a_in;
    for (std::string* path : {&a.spec, &a.result, &a.env})
        if (!path->empty()) *path = std::filesystem::absolute(*path).string();
    const auto spec_json = parse_untrusted_json(read_file(a.spec));
    if (spec_json.is_discarded()) throw InputError(fmt::format("{}: not valid JSON (a cell spec was expected)", a.spec));
    CellSpec spec;
    try {
        spec = spec_json.get<CellSpec>();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: not a cell spec: {}", a.spec, e.what()));
    }
    int code = kWorkerOk;
    const CellResult record = run_cell_guarded(
        spec, read_environment(a.env), outputs_file(std::filesystem::path(a.result).parent_path(), spec.id()), &code);
    if (code != kWorkerOk) std::fprintf(stderr, "rwkvbench: error: %s\n", record.status_detail.c_str());
    write_file_atomically(a.result, json_text(nlohmann::json(record)));  // plugin strings may hold any bytes
    return code;
}

}  // namespace

void register_worker(CLI::App& app) {
    auto* cmd = app.add_subcommand("worker", "Run one cell in this process (started by `run`; internal)");
    cmd->group("");  // hidden: a person runs `run`, which starts workers
    auto args = std::make_shared<WorkerArgs>();
    cmd->add_option("--spec", args->spec, "Cell spec (JSON) to run")->required();
    cmd->add_option("--result", args->result, "Where to write the cell's record (JSON)")->required();
    cmd->add_option("--env", args->env, "Worker environment (JSON: cache_dir, limits)");
    set_action(cmd, [args] { return run_worker(*args); });
}

}  // namespace rwkvb
