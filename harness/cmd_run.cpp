// `rwkvbench run`: plan cells, run each in a worker process (or in-process with --no-isolate),
// keep every finished cell on disk so a killed run can be resumed, then print the report.
#include "atomic_file.hpp"
#include "cell_guard.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "exit_codes.hpp"
#include "limits.hpp"
#include "paths.hpp"
#include "plan.hpp"
#include "report_writers.hpp"
#include "results.hpp"
#include "run_directory.hpp"
#include "sysinfo.hpp"
#include "worker_process.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace rwkvb {
namespace {

struct RunArgs {
    RunOptions plan;
    std::string output, format, dir, resume, memory_limit;
    std::string parity_max_rel_l2, parity_min_top1, parity_max_mean_kl;  // number or "off"
    std::vector<std::string> planning_flags_given;  // ignored with --resume: the stored plan rules
    bool no_isolate = false;
    bool skip_limits = false;
};

// "512M", "2G", "1.5GiB", "1073741824" → bytes (binary units).
uint64_t parse_size(const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    std::string unit = text.substr(used);
    for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (unit.ends_with("IB")) unit.resize(unit.size() - 2);
    else if (unit.size() > 1 && unit.ends_with("B")) unit.pop_back();
    double scale = 0;
    if (unit.empty() || unit == "B") scale = 1;
    else if (unit == "K") scale = 1024.0;
    else if (unit == "M") scale = 1024.0 * 1024;
    else if (unit == "G") scale = 1024.0 * 1024 * 1024;
    else if (unit == "T") scale = 1024.0 * 1024 * 1024 * 1024;
    if (used == 0 || scale == 0 || v <= 0)
        throw InputError(fmt::format("--memory-limit '{}': expected a size such as 512M or 2G", text));
    return static_cast<uint64_t>(v * scale);
}

std::string format_for(const std::string& path, const std::string& asked) {
    if (!asked.empty()) return asked;
    const auto ext = std::filesystem::path(path).extension().string();
    if (ext == ".json") return "json";
    if (ext == ".csv") return "csv";
    if (ext == ".md") return "md";
    return "table";
}

nlohmann::json command_line() {
    nlohmann::json args = nlohmann::json::array();
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    for (std::string a; std::getline(in, a, '\0');) args.push_back(a);
    return args;
}

nlohmann::json run_metadata(const RunArgs& a, const std::filesystem::path& dir) {
    return nlohmann::json{{"schema_version", 1},
                          {"tool", "rwkvbench"},
                          {"version", RWKVB_VERSION},
                          {"git_hash", RWKVB_GIT_HASH},
                          {"build_type", RWKVB_BUILD_TYPE},
                          {"cxx_flags", RWKVB_CXX_FLAGS},
                          {"compiler", RWKVB_COMPILER},
                          {"command_line", command_line()},
                          {"seed", a.plan.seed},
                          {"timestamp_utc", utc_timestamp()},
                          {"hostname", host_name()},
                          {"run_dir", std::filesystem::absolute(dir).string()}};
}

// "ok", "ok, parity FAIL", or the status detail of a failed cell.
std::string status_text(const nlohmann::json& rec) {
    const std::string status = rec.value("status", std::string("?"));
    if (status != kStatusOk) {
        const std::string detail = rec.value("status_detail", std::string());
        return detail.empty() ? status : detail;
    }
    if (auto p = rec.find("parity"); p != rec.end() && p->is_object()) {
        const auto v = p->find("verdict");
        const auto pass = p->find("pass");
        if ((v != p->end() && v->is_string() && *v == "FAIL") || (pass != p->end() && pass->is_boolean() && !*pass))
            return "ok, parity FAIL";
    }
    return status;
}

nlohmann::json in_process(const CellSpec& spec, const CellEnvironment& env) {
    try {
        int code = 0;
        return run_cell_guarded(spec, env, &code);
    } catch (const std::exception& e) {
        return bare_record(spec, kStatusError, std::string("error: internal: ") + e.what());
    }
}

// --parity-* flags into the spec's overrides: a number, or "off" (null) to switch the check off.
nlohmann::json parity_overrides(const RunArgs& a) {
    nlohmann::json o = nlohmann::json::object();
    struct Flag {
        const char *key, *name;
        const std::string* text;
    };
    const Flag flags[] = {{"max_rel_l2", "--parity-max-rel-l2", &a.parity_max_rel_l2},
                          {"min_top1", "--parity-min-top1", &a.parity_min_top1},
                          {"max_mean_kl", "--parity-max-mean-kl", &a.parity_max_mean_kl}};
    for (const auto& [key, name, text] : flags) {
        if (text->empty()) continue;
        if (*text == "off") {
            o[key] = nullptr;
            continue;
        }
        size_t used = 0;
        double v = 0;
        try {
            v = std::stod(*text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != text->size())
            throw InputError(fmt::format("{}: '{}' is not a number (or 'off')", name, *text));
        o[key] = v;
    }
    return o;
}

int run(const RunArgs& a_in) {
    RunArgs a = a_in;
    const uint64_t memory_limit = a.memory_limit.empty() ? default_memory_limit() : parse_size(a.memory_limit);
    std::optional<RunDirectory> dir;
    nlohmann::json plan_doc;
    if (!a.resume.empty()) {
        dir = RunDirectory::open(a.resume);
        plan_doc = dir->read_plan();
        std::fprintf(stderr, "resuming the run in %s\n", dir->root().string().c_str());
        if (!a.planning_flags_given.empty()) {
            std::string flags;
            for (const auto& f : a.planning_flags_given) flags += (flags.empty() ? "" : ", ") + f;
            std::fprintf(stderr, "note: --resume completes the plan stored in %s; ignoring %s\n",
                         dir->plan_file().string().c_str(), flags.c_str());
        }
    } else {
        a.plan.parity_thresholds = parity_overrides(a);
        const Plan plan = make_plan(a.plan, cache_dir() / "models");
        for (const auto& note : plan.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
        if (plan.cells.empty()) throw InputError("nothing to run: no selected backend has a device here (see the notes above)");
        const auto root = a.dir.empty() ? RunDirectory::default_location() : std::filesystem::path(a.dir);
        dir = RunDirectory::create(root);
        plan_doc = {{"run", run_metadata(a, root)}, {"models", plan.models}, {"cells", plan.cells}};
        dir->write_plan(plan_doc);
    }
    std::vector<PlannedCell> cells;
    std::vector<SyntheticModel> models;
    try {
        cells = plan_doc.at("cells").get<std::vector<PlannedCell>>();
        models = plan_doc.value("models", nlohmann::json::array()).get<std::vector<SyntheticModel>>();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(fmt::format("{}: malformed plan: {}", dir->plan_file().string(), e.what()));
    }
    nlohmann::json metadata = plan_doc.value("run", nlohmann::json::object());
    if (!a.resume.empty()) metadata["resumed_by"] = command_line();

    for (const auto& m : models)
        if (const std::string why = synthetic_model_staleness(m); why == "missing")
            std::fprintf(stderr, "writing synthetic weights %s (once; cached)\n", m.path.string().c_str());
        else if (!why.empty())
            std::fprintf(stderr, "rewriting synthetic weights %s: the cached file %s\n", m.path.string().c_str(),
                         why.c_str());
    prepare_models(models);

    // --skip-limits skips only the measuring: limits cached for this host (and these threads, so
    // the fractions compare like with like) are still used. Measuring takes a while: say so first.
    // A resumed run uses the threads its cells were planned with.
    const int threads = cells.empty() ? a.plan.threads : cells.front().spec.threads;
    nlohmann::json limits = load_or_measure_limits(cache_dir(), false, threads);
    if (limits.empty() && !a.skip_limits) {
        std::fprintf(stderr, "measuring this host's limits once (about 10 s; --skip-limits skips it), cached in %s\n",
                     limits_cache_path(cache_dir(), threads).string().c_str());
        limits = load_or_measure_limits(cache_dir(), true, threads);
    }
    const CellEnvironment env{cache_dir(), limits};
    dir->write_environment({{"cache_dir", env.cache_dir.string()}, {"limits", limits}});
    const nlohmann::json system = collect_system_info();
    const auto self = self_executable();

    std::vector<std::optional<nlohmann::json>> records(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) records[i] = dir->read_cell(cells[i].spec.id());
    auto document = [&] {
        nlohmann::json done = nlohmann::json::array();
        for (const auto& r : records)
            if (r) done.push_back(*r);
        return make_run_document(metadata, system, limits, done);
    };

    dir->write_results(document());  // valid from the start, even if killed before any cell ends
    const size_t n = cells.size();
    for (size_t i = 0; i < n; ++i) {
        const CellSpec& spec = cells[i].spec;
        const std::string id = spec.id();
        if (records[i]) {
            std::fprintf(stderr, "[%zu/%zu] %s ... %s (finished earlier)\n", i + 1, n, id.c_str(),
                         status_text(*records[i]).c_str());
            continue;
        }
        std::fprintf(stderr, "[%zu/%zu] %s ... ", i + 1, n, id.c_str());
        std::fflush(stderr);
        const auto start = std::chrono::steady_clock::now();
        nlohmann::json rec;
        if (!cells[i].skip_reason.empty()) {
            rec = bare_record(spec, kStatusSkipped, "skipped: " + cells[i].skip_reason);
        } else {
            const nlohmann::json load_before = host_load_snapshot();
            rec = a.no_isolate ? in_process(spec, env)
                               : run_cell_in_worker(self, spec, dir->work_dir(), dir->environment_file(),
                                                    WorkerLimits{spec.timeout_s, memory_limit});
            // The one record of host load per cell (DESIGN.md §5), taken here so that cells whose
            // worker crashed or timed out have it too.
            rec["host_load"] = {{"before", load_before}, {"after", host_load_snapshot()}};
        }
        dir->write_cell(rec);  // on disk before the next cell starts
        records[i] = rec;
        dir->write_results(document());
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "%s %.1f s\n", status_text(rec).c_str(), secs);
    }

    const nlohmann::json doc = document();
    dir->write_results(doc);
    const std::string stdout_format = a.output.empty() && !a.format.empty() ? a.format : "table";
    write_report(doc, stdout_format, std::cout);
    std::cout.flush();
    if (!a.output.empty()) {
        std::ostringstream out;
        write_report(doc, format_for(a.output, a.format), out);
        write_file_atomically(a.output, out.str());
        std::fprintf(stderr, "results written to %s\n", a.output.c_str());
    }
    std::fprintf(stderr, "run directory: %s (resume with `rwkvbench run --resume %s`)\n", dir->root().string().c_str(),
                 dir->root().string().c_str());
    if (nothing_ran(doc))
        std::fprintf(stderr, "rwkvbench: nothing ran: every cell was skipped (reasons above); exit code %d\n",
                     int(kExitCellFailed));
    return run_exit_code(doc);
}

}  // namespace

void register_run(CLI::App& app) {
    auto* cmd = app.add_subcommand("run", "Run benchmark cells (backend × device × workload × scenario × dtype)");
    auto a = std::make_shared<RunArgs>();
    RunOptions& o = a->plan;
    ScenarioParams& p = o.params;
    cmd->add_option("--backend,-b", o.backends,
                    "Backends: names, 'name:device' (e.g. opencl:1), or 'all' (every backend with a device here "
                    "but reference and template)")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--workload,-w", o.workloads, "Workload presets (see `rwkvbench models`); default rwkv7-0.1b")
        ->delimiter(',');
    cmd->add_option("--model", o.models, "Your own checkpoint (.safetensors, official naming); repeatable");
    cmd->add_option("--scenario,-s", o.scenarios, "Scenarios: prefill, decode, batch, long, parity")
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--dtype", o.dtypes, "Weight dtypes: f64, f32, f16, bf16, int8")->delimiter(',')->capture_default_str();
    cmd->add_option("--seed", o.seed, "Seed of the synthetic weights and token streams")->capture_default_str();
    cmd->add_option("--threads", o.threads, "Threads per backend (0 = its default)")->capture_default_str();
    cmd->add_option("--timeout", o.timeout_s, "Wall-clock limit per cell, seconds")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--prompt", p.prompt_tokens, "Prompt tokens (prefill; before decode and batch)")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--tokens", p.decode_tokens, "Decoded tokens (decode, batch)")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--parity-tokens", p.parity_tokens, "Tokens compared with the golden (parity)")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--batch", p.batch, "Streams of the batch scenario")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--long-positions", p.long_positions, "How far the long scenario decodes (positions)")
        ->capture_default_str()
        ->check(CLI::Range(16, 1 << 30));
    cmd->add_option("--long-samples", p.long_samples, "Positions at which the long scenario measures latency")
        ->capture_default_str()
        ->check(CLI::Range(2, 4096));
    cmd->add_option("--repetitions", p.repetitions, "Timed repetitions (at least)")->capture_default_str()->check(CLI::PositiveNumber);
    cmd->add_option("--warmup", p.warmup, "Untimed repetitions first")->capture_default_str()->check(CLI::NonNegativeNumber);
    cmd->add_option("--min-time", p.min_time_s, "Repeat until this many seconds were measured")->capture_default_str()->check(CLI::NonNegativeNumber);
    // DESIGN.md §6 defaults, by weight dtype; each flag overrides it for every parity cell.
    cmd->add_option("--parity-max-rel-l2", a->parity_max_rel_l2,
                    "Parity: largest relative L2 error of any step's logits, or 'off' (default: f64/f32 1e-4, "
                    "f16/bf16 2e-2, int8 off)");
    cmd->add_option("--parity-min-top1", a->parity_min_top1,
                    "Parity: least top-1 agreement as a fraction, or 'off' (default: f64/f32 1, f16/bf16 0.99, int8 "
                    "0.97)");
    cmd->add_option("--parity-max-mean-kl", a->parity_max_mean_kl,
                    "Parity: largest mean KL(golden || backend) in nats, or 'off' (default: f64/f32 off, f16/bf16 "
                    "1e-3, int8 1e-2)");
    cmd->add_option("--plugin", o.plugins, "Extra plugin library (.so) besides the ones found; repeatable");
    cmd->add_option("--plugin-options", o.plugin_options, "Options passed to each plugin's create(): key=value,...");
    cmd->add_option("-o,--output", a->output, "Also write the report to this file (format from --format or the extension)");
    cmd->add_option("--format", a->format, "Report format: table, json, csv, md")
        ->check(CLI::IsMember({"table", "json", "csv", "md"}));
    cmd->add_option("--dir", a->dir, "Run directory (default ./rwkvbench-results/<UTC time>-<host>)");
    cmd->add_option("--resume", a->resume, "Complete the run in this directory (skips finished cells)")
        ->excludes("--dir");
    cmd->add_option("--memory-limit", a->memory_limit, "Kill a worker holding more than this, e.g. 2G (default 75% of RAM); counts anonymous and "
                    "shared memory (RssAnon + RssShmem), not the mapped checkpoint's file pages");
    cmd->add_flag("--no-isolate", a->no_isolate, "Run cells in this process (debugging: a crash ends the run)");
    cmd->add_flag("--skip-limits", a->skip_limits,
                  "Do not measure this host's limits if they are not cached (cached ones are still used; without them "
                  "no roofline fractions)");
    set_action(cmd, [a, cmd] {
        // Flags that shape the plan; a resumed run keeps the plan it stored, so these are ignored.
        static const char* planning[] = {"--backend", "--workload", "--model", "--scenario", "--dtype", "--seed",
                                         "--threads", "--timeout", "--prompt", "--tokens", "--parity-tokens",
                                         "--batch", "--long-positions", "--long-samples", "--repetitions",
                                         "--warmup", "--min-time", "--parity-max-rel-l2", "--parity-min-top1",
                                         "--parity-max-mean-kl", "--plugin", "--plugin-options"};
        a->planning_flags_given.clear();
        for (const char* f : planning)
            if (cmd->count(f) > 0) a->planning_flags_given.push_back(f);
        return run(*a);
    });
}

}  // namespace rwkvb
