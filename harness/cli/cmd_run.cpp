// `rwkvbench run`: plan cells, run each in a worker process (or in-process with --no-isolate),
// keep every finished cell on disk so a killed run can be resumed, then print the report.
#include "io/atomic_file.hpp"
#include "run/cell_guard.hpp"
#include "parity/cell_outputs.hpp"
#include "parity/cell_verdict.hpp"
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "cli/interrupt.hpp"
#include "measure/contention.hpp"
#include "measure/limits.hpp"
#include "io/paths.hpp"
#include "run/interleave.hpp"
#include "run/plan.hpp"
#include "cli/repro.hpp"
#include "report_writers.hpp"
#include "results.hpp"
#include "run/run_directory.hpp"
#include "measure/sysinfo.hpp"
#include "io/utf8.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
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

constexpr uint64_t kMinMemoryLimit = 16ull << 20;

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
    if (used == 0 || scale == 0 || !std::isfinite(v) || v <= 0)
        throw InputError(fmt::format("--memory-limit '{}': expected a size such as 512M or 2G", valid_utf8(text)));
    // Below 16 MiB no worker can even start: such a limit is a typo (0.1 = 0 bytes), not a wish.
    const double bytes = v * scale;
    if (bytes < double(kMinMemoryLimit) || bytes >= 0x1p64)
        throw InputError(fmt::format("--memory-limit '{}': expected a size from 16M up, such as 512M or 2G",
                                     valid_utf8(text)));
    return static_cast<uint64_t>(bytes);
}

nlohmann::json command_line() {
    nlohmann::json args = nlohmann::json::array();
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    for (std::string a; std::getline(in, a, '\0');) args.push_back(valid_utf8(a));
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
                          {"interleave", a.plan.interleave},
                          {"timestamp_utc", utc_timestamp()},
                          {"hostname", host_name()},
                          {"run_dir", std::filesystem::absolute(dir).string()}};
}

// The rounds of --interleave the plan was made with, from its "run" metadata (1 when a plan made
// before --interleave existed does not say). A value that is no round count is a malformed plan.
int interleave_of(const nlohmann::json& plan_doc, const std::filesystem::path& plan_file) {
    const auto run = plan_doc.find("run");
    if (run == plan_doc.end() || !run->is_object() || !run->contains("interleave")) return 1;
    const nlohmann::json& v = (*run)["interleave"];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxInterleaveRounds)
        throw InputError(fmt::format("{}: malformed plan: run.interleave is {}, not a round count from 1 to {}",
                                     plan_file.string(), v.dump(), kMaxInterleaveRounds));
    return v.get<int>();
}

// "ok", "ok, parity FAIL", or the status detail of a failed cell.
std::string status_text(const CellResult& rec) {
    if (rec.status != CellStatus::ok)
        return rec.status_detail.empty() ? std::string(to_string(rec.status)) : rec.status_detail;
    // The parent's verdicts (cell_verdict.hpp): a parity cell's, or a timed cell's own output check.
    if (rec.parity && rec.parity->verdict == Verdict::fail) return "ok, parity FAIL";
    if (rec.verification && rec.verification->verdict == Verdict::fail) return "ok, verification FAIL";
    std::string text = rec.verification ? "ok, output verified" : "ok";
    if (rec.timed() && rec.contended()) text += " (contended)";
    return text;
}

CellResult in_process(const CellSpec& spec, const CellEnvironment& env, const std::filesystem::path& outputs) {
    try {
        int code = 0;
        return run_cell_guarded(spec, env, outputs, &code);
    } catch (const std::exception& e) {
        return bare_result(spec, CellStatus::error, std::string("error: internal: ") + e.what());
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
        if (used == 0 || used != text->size() || !std::isfinite(v) || v < 0)
            throw InputError(fmt::format("{}: '{}' is not a finite non-negative number (or 'off')", name,
                                         valid_utf8(*text)));
        o[key] = v;
    }
    return o;
}

// --plugin: a regular file that exists. Whether it is an rwkvbench plugin is found by probing it
// in a child process (discovery), never by loading it into this one.
void check_plugin_argument(const std::filesystem::path& plugin) {
    check_path_argument("--plugin", plugin);
    std::error_code ec;
    const auto status = std::filesystem::status(plugin, ec);
    if (!std::filesystem::exists(status))
        throw InputError(fmt::format("--plugin {}: no such file; pass the path of an rwkvbench plugin library (.so)",
                                     plugin.string()));
    if (!std::filesystem::is_regular_file(status))
        throw InputError(fmt::format("--plugin {}: not a regular file; pass the path of an rwkvbench plugin library "
                                     "(.so)",
                                     plugin.string()));
}

// Every path the user gave, before anything is planned or written: usable, and recordable in JSON.
void check_path_arguments(const RunArgs& a) {
    if (!a.dir.empty()) check_path_argument("--dir", a.dir);
    if (!a.resume.empty()) check_path_argument("--resume", a.resume);
    if (!a.output.empty()) {
        check_path_argument("-o", a.output);
        // Before any cell runs: a report file no writer can honour is refused now, not after an hour.
        try {
            report_format_for(a.output, a.format.empty() ? std::nullopt : from_string<ReportFormat>(a.format));
        } catch (const std::invalid_argument& e) {
            throw InputError(std::string("-o ") + e.what());
        }
    }
    for (const auto& m : a.plan.models) check_path_argument("--model", m);
    for (const auto& p : a.plan.plugins) check_plugin_argument(p);
}

// The plan's cells, each with the hash of its spec that every record of the cell carries too.
nlohmann::json planned_cells_json(const std::vector<PlannedCell>& cells) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : cells) {
        nlohmann::json j = c;
        j["spec_hash"] = spec_hash(c.spec);
        out.push_back(std::move(j));
    }
    return out;
}

// The record of `spec` finished earlier, if there is one made for exactly this spec. One made for
// another spec (edited, or from another plan) is not used: the cell runs again, and we say why.
std::optional<CellResult> record_for_plan(const RunDirectory& dir, const CellSpec& spec) {
    auto rec = dir.read_cell(spec.id());
    if (!rec) return std::nullopt;
    if (const std::string why = record_spec_mismatch(*rec, spec); !why.empty()) {
        std::fprintf(stderr, "note: %s was made for another spec (%s); running the cell again\n",
                     dir.cell_file(spec.id()).string().c_str(), why.c_str());
        return std::nullopt;
    }
    return cell_result_from_json(*rec);
}

// `text` as one shell word, so the resume hint can be pasted as it is.
std::string shell_quoted(const std::string& text) {
    const char* plain = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+,:=@%";
    if (!text.empty() && text.find_first_not_of(plain) == std::string::npos) return text;
    std::string quoted = "'";
    for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

std::string resume_command(const RunDirectory& dir) {
    return "rwkvbench run --resume " + shell_quoted(dir.root().string());
}

// After SIGINT/SIGTERM: what finished is on disk; say how to go on; exit 128 + signal.
int end_interrupted(const RunDirectory& dir, const RunDocument& document, const InterruptCatcher& interrupt,
                    size_t cells_total) {
    dir.write_results(document);
    std::fprintf(stderr, "rwkvbench: interrupted by %s: %zu of %zu cells finished, kept in %s; resume with `%s`\n",
                 signal_abbrev(interrupt.signal_number()).c_str(), document.cells.size(), cells_total,
                 dir.results_file().string().c_str(), resume_command(dir).c_str());
    return interrupt.exit_code();
}

int run(const RunArgs& a_in) {
    RunArgs a = a_in;
    check_path_arguments(a);
    check_path_argument("the cache directory (RWKVBENCH_CACHE_DIR)", cache_dir());  // model paths lie under it
    // Absolute before any worker starts: a plugin that chdir()s must not change what they name.
    for (auto& m : a.plan.models) m = std::filesystem::absolute(m);
    for (auto& p : a.plan.plugins) p = std::filesystem::absolute(p);
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
        const auto root =
            std::filesystem::absolute(a.dir.empty() ? RunDirectory::default_location() : std::filesystem::path(a.dir));
        check_path_argument("the run directory", root);  // the default one lies under the working directory
        dir = RunDirectory::create(root);
        plan_doc = {{"run", run_metadata(a, root)}, {"models", plan.models}, {"cells", planned_cells_json(plan.cells)}};
        dir->write_plan(plan_doc);
    }
    // From here on a Ctrl-C ends the run at the next cell boundary, or stops the running worker.
    const InterruptCatcher interrupt;
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
    const int rounds = interleave_of(plan_doc, dir->plan_file());

    const auto model_digests = prepare_models(models, [](const SyntheticModel& m, const std::string& why) {
        if (why == "missing") std::fprintf(stderr, "writing synthetic weights %s (once; cached)\n", m.path.string().c_str());
        else std::fprintf(stderr, "rewriting synthetic weights %s: the cached file %s\n", m.path.string().c_str(), why.c_str());
    });

    // --skip-limits skips only the measuring: limits cached for this host (and these threads, so
    // the fractions compare like with like) are still used. Measuring takes a while: say so first.
    // A resumed run uses the threads its cells were planned with.
    const int threads = cells.empty() ? a.plan.threads.front() : cells.front().spec.threads;
    // With --skip-limits a stale cache (old, or measured under load) is still used, marked stale.
    nlohmann::json limits = load_or_measure_limits(cache_dir(), false, threads, /*use_stale=*/a.skip_limits);
    if (limits.empty() && !a.skip_limits) {
        std::fprintf(stderr, "measuring this host's limits once (about 10 s; --skip-limits skips it), cached in %s\n",
                     limits_cache_path(cache_dir(), threads).string().c_str());
        limits = load_or_measure_limits(cache_dir(), true, threads);
    }
    const CellEnvironment env{std::filesystem::absolute(cache_dir()), limits};
    dir->write_environment({{"cache_dir", env.cache_dir.string()}, {"limits", limits}});
    const nlohmann::json system = collect_system_info();
    const auto self = self_executable();
    // The judge of every cell's outputs pins the checkpoints' and the reference's SHA-256 now,
    // before any plugin under test runs (cell_verdict.hpp).
    std::vector<CellSpec> to_judge;
    for (const auto& c : cells)
        if (c.skip_reason.empty()) to_judge.push_back(c.spec);
    // The clean room's base limit; CellJudge adds time for each golden's tokens.
    const double golden_timeout_s = cells.empty() ? 600.0 : cells.front().spec.timeout_s;
    CellJudge judge(GoldenSource{self, env.cache_dir, golden_timeout_s, &interrupt.stop_flag()}, to_judge, model_digests);
    if (!to_judge.empty())
        std::fprintf(stderr, "golden logits for the output checks: from the cache, or computed now in a clean-room "
                             "process before any plugin runs\n");
    judge.prefetch(to_judge, [](const std::string& line) { std::fprintf(stderr, "  %s\n", line.c_str()); });

    std::vector<std::optional<CellResult>> records(cells.size());
    for (size_t i = 0; i < cells.size(); ++i) records[i] = record_for_plan(*dir, cells[i].spec);
    auto document = [&] {
        std::vector<CellResult> done;
        for (const auto& r : records)
            if (r) done.push_back(*r);
        return make_run_document(metadata, system, limits, std::move(done));
    };

    dir->write_results(document());  // valid from the start, even if killed before any cell ends
    const size_t n = cells.size();
    // With --interleave N, round r runs every cell once, in plan order, before round r + 1 starts;
    // cells that are not measured in rounds (parity, long, skipped) run in the first round only.
    // The rounds of a cell are kept here until its last one ends: only then is its record merged
    // and written, so a run stopped in between runs the unfinished cells' rounds again on --resume.
    std::vector<std::vector<CellResult>> rounds_of(n);
    auto in_rounds = [&](size_t i) {
        return rounds > 1 && cells[i].skip_reason.empty() && interleaved_scenario(cells[i].spec);
    };
    bool stopped_early = false;
    for (int round = 1; round <= rounds && !stopped_early; ++round) {
        const std::string prefix = rounds > 1 ? fmt::format("[round {}/{}] ", round, rounds) : std::string();
        for (size_t i = 0; i < n; ++i) {
            if (interrupt.interrupted()) {
                stopped_early = true;
                break;
            }
            if (round > 1 && !in_rounds(i)) continue;  // ran in the first round
            const CellSpec& spec = cells[i].spec;
            const std::string id = spec.id();
            if (records[i]) {
                if (round == 1)
                    std::fprintf(stderr, "%s[%zu/%zu] %s ... %s (finished earlier)\n", prefix.c_str(), i + 1, n,
                                 id.c_str(), status_text(*records[i]).c_str());
                continue;
            }
            std::fprintf(stderr, "%s[%zu/%zu] %s ... ", prefix.c_str(), i + 1, n, id.c_str());
            std::fflush(stderr);
            const auto start = std::chrono::steady_clock::now();
            // What this round's worker runs: its share of the planned repetitions (interleave.hpp).
            // The record carries the planned spec, stamped below.
            const CellSpec run_spec = in_rounds(i) ? interleave_round_spec(spec, rounds) : spec;
            CellResult rec;
            std::vector<std::string> notes;
            if (!cells[i].skip_reason.empty()) {
                rec = bare_result(spec, CellStatus::skipped, "skipped: " + cells[i].skip_reason);
            } else {
                const nlohmann::json load_before = host_load_snapshot();
                if (a.no_isolate) {
                    const ContentionWindow window;  // the cell runs in this process: our own CPU is its
                    rec = in_process(run_spec, env, outputs_file(dir->work_dir(), id));
                    rec.contention = contention_record(window.finish());
                } else {
                    ProcessOutcome outcome;
                    rec = cell_result_from_json(run_cell_in_worker(self, run_spec, dir->work_dir(),
                                                                   dir->environment_file(),
                                                                   WorkerLimits{spec.timeout_s, memory_limit},
                                                                   &interrupt.stop_flag(), &outcome));
                    // Other processes' CPU while it ran: a cell that shared the machine is flagged.
                    rec.contention = contention_record(outcome.contention);
                }
                if (interrupt.interrupted()) {  // not recorded: the cell runs again on --resume
                    std::fprintf(stderr, "interrupted\n");
                    stopped_early = true;
                    break;
                }
                // The one record of host load per cell (DESIGN.md §5), taken here so that cells whose
                // worker crashed or timed out have it too.
                rec.host_load = {{"before", load_before}, {"after", host_load_snapshot()}};
                // Judged here, outside the worker and after the host-load snapshot: the golden's
                // clean-room process is no part of the cell's measurement. Every round is judged
                // against the planned spec, whose goldens were prefetched.
                notes = judge.judge(rec, spec, outputs_file(dir->work_dir(), id));
                if (interrupt.interrupted()) {  // stopped while judging: not recorded either
                    std::fprintf(stderr, "interrupted\n");
                    stopped_early = true;
                    break;
                }
            }
            if (in_rounds(i)) {
                // A round that did not end ok decides the cell: its later rounds are not run.
                const bool ended = round == rounds || rec.status != CellStatus::ok;
                rounds_of[i].push_back(std::move(rec));
                if (!ended) {
                    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                    std::fprintf(stderr, "%s %.1f s\n", status_text(rounds_of[i].back()).c_str(), secs);
                    for (const auto& note : notes) std::fprintf(stderr, "  note: %s\n", note.c_str());
                    continue;
                }
                rec = merge_rounds(spec, rounds_of[i]);
                rounds_of[i].clear();
            }
            stamp_spec(rec, spec);  // the parent's own copy, which --resume compares with the plan
            rec.repro = repro_command(spec);
            dir->write_cell(rec);  // on disk before the next cell starts
            records[i] = rec;
            dir->write_results(document());
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::fprintf(stderr, "%s %.1f s\n", status_text(rec).c_str(), secs);
            for (const auto& note : notes) std::fprintf(stderr, "  note: %s\n", note.c_str());
        }
    }

    if (stopped_early) return end_interrupted(*dir, document(), interrupt, n);

    const RunDocument doc = document();
    dir->write_results(doc);
    const std::optional<ReportFormat> asked =
        a.format.empty() ? std::nullopt : std::optional(parse_name<ReportFormat>(a.format));
    write_report(doc, a.output.empty() && asked ? *asked : ReportFormat::table, std::cout);
    std::cout.flush();
    if (!a.output.empty()) {
        std::ostringstream out;
        write_report(doc, report_format_for(a.output, asked), out);
        write_file_atomically(a.output, out.str());
        std::fprintf(stderr, "results written to %s\n", a.output.c_str());
    }
    std::fprintf(stderr, "run directory: %s (resume with `%s`)\n", dir->root().string().c_str(),
                 resume_command(*dir).c_str());
    if (nothing_ran(doc.cells))
        std::fprintf(stderr, "rwkvbench: nothing ran: every cell was skipped (reasons above); exit code %d\n",
                     int(kExitCellFailed));
    return doc.summary.exit_code;
}

}  // namespace

void register_run(CLI::App& app) {
    auto* cmd = app.add_subcommand("run", "Run benchmark cells (backend × device × workload × scenario × dtype)");
    cmd->footer(
        "\nEach cell runs in its own worker process; the parent judges what it produced. A parity cell compares "
        "its logits with the float64 golden (computed in a clean process from the checkpoint file, cached with a "
        "SHA-256); every timed cell's own output is checked the same way, and one that differs is 'invalid'.\n"
        "Exit codes: 0 all ran and passed, 2 usage or input error, 3 parity FAIL or an invalid cell, 4 a cell "
        "failed to run, 130/143 interrupted (the resume command is printed).");
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
    cmd->add_option("--scenario,-s", o.scenarios, "Scenarios: " + names_text<Scenario>(", "))
        ->delimiter(',')
        ->capture_default_str();
    cmd->add_option("--dtype", o.dtypes, "Weight dtypes: f64, f32, f16, bf16, int8")->delimiter(',')->capture_default_str();
    // NonNegativeNumber: CLI11 would read "-1" as 2^64 - 1.
    cmd->add_option("--seed", o.seed, "Seed of the synthetic weights and token streams")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    // Every number is range-checked: CLI::PositiveNumber lets NaN through (NaN <= 0 is false), and
    // a NaN timeout never fires. Token counts stop at 2^24, like `logits --tokens`.
    constexpr int kMaxTokens = 1 << 24;
    // Lists sweep, as llama-bench does: `--threads 1,2 --prompt 128,512` plans every combination
    // for the scenarios each parameter shapes; the cell id names the swept values (".t2.p512").
    cmd->add_option("--threads", o.threads, "Threads per backend (0 = its default); a list sweeps")
        ->delimiter(',')
        ->capture_default_str()
        ->check(CLI::Range(0, 1 << 16));
    cmd->add_option("--timeout", o.timeout_s, "Wall-clock limit per cell, seconds")
        ->capture_default_str()
        ->check(finite_number(0, kMaxSeconds, true));
    cmd->add_option("--prompt", o.prompt_tokens, fmt::format("Prompt tokens (prefill; before decode and batch); a list sweeps [{}]", p.prompt_tokens))
        ->delimiter(',')
        ->check(CLI::Range(1, kMaxTokens));
    cmd->add_option("--tokens", o.decode_tokens, fmt::format("Decoded tokens (decode, batch); a list sweeps [{}]", p.decode_tokens))
        ->delimiter(',')
        ->check(CLI::Range(1, kMaxTokens));
    cmd->add_option("--parity-tokens", p.parity_tokens, "Tokens compared with the golden (parity)")->capture_default_str()->check(CLI::Range(1, kMaxTokens));
    cmd->add_option("--batch", o.batch, fmt::format("Streams of the batch scenario; a list sweeps [{}]", p.batch))
        ->delimiter(',')
        ->check(CLI::Range(1, 1 << 16));
    cmd->add_option("--long-positions", o.long_positions,
                    fmt::format("How far the long scenario decodes (positions); a list sweeps [{}]", p.long_positions))
        ->delimiter(',')
        ->check(CLI::Range(16, 1 << 30));
    cmd->add_option("--long-samples", p.long_samples, "Positions at which the long scenario measures latency")
        ->capture_default_str()
        ->check(CLI::Range(2, 4096));
    cmd->add_option("--repetitions", p.repetitions, "Timed repetitions (at least)")->capture_default_str()->check(CLI::Range(1, 1 << 30));
    cmd->add_option("--warmup", p.warmup, "Untimed repetitions first")->capture_default_str()->check(CLI::Range(0, 1 << 30));
    cmd->add_option("--min-time", p.min_time_s, "Repeat until this many seconds were measured")
        ->capture_default_str()
        ->check(finite_number(0, kMaxSeconds));
    cmd->add_option("--target-ci", p.target_ci,
                    "Then repeat until the 95% CI of the median is within ± this fraction of it (0 = off)")
        ->capture_default_str()
        ->check(finite_number(0, 1));
    cmd->add_option("--max-time", p.max_time_s, "Stop repeating for --target-ci once this many seconds were measured")
        ->capture_default_str()
        ->check(finite_number(0, kMaxSeconds));
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
    add_discovery_timeout_option(cmd, o.discovery);
    cmd->add_option("--plugin-options", o.plugin_options, "Options passed to each plugin's create(): key=value,...");
    cmd->add_option("-o,--output", a->output, "Also write the report to this file (format from --format or the extension)");
    cmd->add_option("--format", a->format, "Report format: " + names_text<ReportFormat>(", "))
        ->check(CLI::IsMember(all_names<ReportFormat>()));
    cmd->add_option("--dir", a->dir, "Run directory (default ./rwkvbench-results/<UTC time>-<host>)");
    cmd->add_option("--resume", a->resume,
                    "Complete the run in this directory (skips finished cells; with --interleave, a cell whose rounds "
                    "did not all end runs all its rounds again)")
        ->excludes("--dir");
    cmd->add_option("--memory-limit", a->memory_limit, "Kill a worker holding more than this, e.g. 2G (default 75% of RAM); counts anonymous and "
                    "shared memory (RssAnon + RssShmem), not the mapped checkpoint's file pages");
    cmd->add_option("--interleave", o.interleave,
                    "Measure each timed cell (prefill, decode, batch) in N rounds: every round runs every cell once, "
                    "in plan order, before the next starts, so a drift of the host (heat, another tenant) hits "
                    "every backend alike. A round is a worker of its own with the same --warmup, ceil(--repetitions "
                    "/ N) repetitions, --min-time / N and --max-time / N; --target-ci is not applied per round (the "
                    "CI of the merged samples is reported, no repetitions are added to reach it). The rounds' "
                    "samples are merged into one record per cell, marked \"interleave\": {\"rounds\": N}. Parity "
                    "and long cells run once, in the first round. A cell's record is written when its last round "
                    "ends: --resume runs every round of an unfinished cell again")
        ->capture_default_str()
        ->check(CLI::Range(1, kMaxInterleaveRounds));
    cmd->add_flag("--no-isolate", a->no_isolate, "Run cells in this process (debugging: a crash ends the run)");
    cmd->add_flag("--skip-limits", a->skip_limits,
                  "Do not measure this host's limits if they are not cached (cached ones are still used; without them "
                  "no roofline fractions)");
    set_action(cmd, [a, cmd] {
        // Flags that shape the plan; a resumed run keeps the plan it stored, so these are ignored.
        static const char* planning[] = {"--backend", "--workload", "--model", "--scenario", "--dtype", "--seed",
                                         "--threads", "--timeout", "--prompt", "--tokens", "--parity-tokens",
                                         "--batch", "--long-positions", "--long-samples", "--repetitions",
                                         "--warmup", "--min-time", "--target-ci", "--max-time", "--parity-max-rel-l2", "--parity-min-top1",
                                         "--parity-max-mean-kl", "--plugin", "--plugin-options", "--discovery-timeout",
                                         "--interleave"};
        a->planning_flags_given.clear();
        for (const char* f : planning)
            if (cmd->count(f) > 0) a->planning_flags_given.push_back(f);
        return run(*a);
    });
}

}  // namespace rwkvb
