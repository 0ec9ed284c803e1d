// `rwkvbench merge A B … -o fleet.json` (DESIGN.md §7): runs from many hosts (or commits, or
// times) in one results document, each cell keeping its run of origin (reports/merge.hpp), and
// the fleet table on stdout: one row per configuration, one column per run.
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "io/atomic_file.hpp"
#include "io/results_input.hpp"
#include "io/utf8.hpp"
#include "merge.hpp"
#include "report_writers.hpp"
#include "run/run_directory.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace rwkvb {
namespace {

struct MergeArgs {
    std::vector<std::string> inputs;
    std::string output, format = "table";
};

nlohmann::json own_command_line() {
    nlohmann::json args = nlohmann::json::array();
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    for (std::string a; std::getline(in, a, '\0');) args.push_back(valid_utf8(a));
    return args;
}

int merge(const MergeArgs& a) {
    for (const auto& p : a.inputs) check_path_argument("merge", p);
    check_path_argument("-o", a.output);
    // The file is the merged document; a table in a file named .json (or JSON in one named .csv)
    // would mislead whoever opens it.
    if (const auto ext = std::filesystem::path(a.output).extension(); ext != ".json")
        throw InputError(fmt::format("-o {}: merge writes the merged results document (JSON); name it .json (the "
                                     "fleet table goes to stdout in the --format asked)",
                                     a.output));
    const ReportFormat format = parse_name<ReportFormat>(a.format);

    std::vector<MergeInput> inputs;
    for (const auto& p : a.inputs) inputs.push_back({p, read_results_document(p)});
    RunDocument merged;
    try {
        merged = merge_runs(inputs);
    } catch (const std::invalid_argument& e) {
        throw InputError(e.what());
    }
    merged.run.update({{"version", RWKVB_VERSION},
                       {"git_hash", RWKVB_GIT_HASH},
                       {"merged_at", utc_timestamp()},
                       {"command_line", own_command_line()}});

    std::ostringstream doc;
    write_report(merged, ReportFormat::json, doc);
    write_file_atomically(a.output, doc.str());
    write_fleet_table(merged, format, std::cout);
    std::string ids;
    for (const auto& [id, r] : merged.runs.items()) ids += (ids.empty() ? "" : ", ") + id;
    std::fprintf(stderr, "merged %zu run(s) (%s), %zu cells, into %s\n", merged.runs.size(), ids.c_str(),
                 merged.cells.size(), a.output.c_str());
    return kExitOk;
}

}  // namespace

void register_merge(CLI::App& app) {
    auto* cmd = app.add_subcommand("merge", "Merge runs from several hosts (or commits, or times) into one results "
                                            "document, and print the fleet table");
    cmd->footer(
        "\nEach cell keeps its run of origin: the run's host name, with #2, #3, … for further runs of one host in "
        "order of their start time. Each run's metadata, system and limits are kept under \"runs\". A merged "
        "document can be merged again (it is flattened), compared (`rwkvbench compare`) and read by every writer.\n"
        "The fleet table has one row per backend, device, workload, scenario, dtype and parameters, and one column "
        "per run: tokens/s ([x]: uncertified), the parity verdict for parity rows, or the status of a cell that did "
        "not run.\n"
        "The same run given twice (same run directory, or same start time, host and command line) is refused.\n"
        "Exit codes: 0 merged, 2 a bad input (not a results document, the same run twice, a bad -o).\n"
        "Example: rwkvbench merge hostA/results.json hostB/results.json -o fleet.json --format md");
    auto a = std::make_shared<MergeArgs>();
    cmd->add_option("INPUTS", a->inputs, "Results documents (results.json, merged documents) or run directories")
        ->required()
        ->expected(1, -1);
    cmd->add_option("-o,--output", a->output, "The merged results document to write (.json)")->required();
    cmd->add_option("--format", a->format, "Fleet table format on stdout: table, md or csv")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "md", "csv"}));
    set_action(cmd, [a] { return merge(*a); });
}

}  // namespace rwkvb
