// `rwkvbench compare BASE CAND`: the CI gate (DESIGN.md §7–§8). Reads two results documents (or
// run directories, or merged documents), matches their cells, and exits 5 on a regression.
#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "compare.hpp"
#include "report_writers.hpp"
#include "errors.hpp"
#include "io/atomic_file.hpp"
#include "io/results_input.hpp"

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <sstream>

namespace rwkvb {
namespace {

struct CompareArgs {
    std::string base, cand, output, format;
    CompareOptions options;
};

int compare(const CompareArgs& a) {
    for (const auto* p : {&a.base, &a.cand}) check_path_argument("compare", *p);
    if (!a.output.empty()) check_path_argument("-o", a.output);
    const auto asked = a.format.empty() ? std::nullopt : std::optional(parse_name<ReportFormat>(a.format));
    ReportFormat format = asked.value_or(ReportFormat::table);
    if (!a.output.empty()) {
        try {
            format = report_format_for(a.output, asked);
        } catch (const std::invalid_argument& e) {
            throw InputError(std::string("-o ") + e.what());
        }
        if (format == ReportFormat::csv) throw InputError("-o " + a.output + ": compare writes table, md or json");
    }
    const RunDocument base = read_results_document(a.base), cand = read_results_document(a.cand);
    const Comparison c = compare_runs(base, cand, a.options);
    std::ostringstream text;
    write_comparison(c, format, text);
    if (a.output.empty()) {
        std::cout << text.str();
    } else {
        write_file_atomically(a.output, text.str());
        write_comparison(c, ReportFormat::table, std::cout);  // the person at the terminal sees it too
        std::fprintf(stderr, "comparison written to %s\n", a.output.c_str());
    }
    if (c.exit_code == kExitUsage)
        std::fprintf(stderr, "rwkvbench compare: nothing comparable: no cell of %s matches one of %s that ran (same "
                             "backend, device, workload, scenario, dtype, threads and parameters)\n",
                     a.base.c_str(), a.cand.c_str());
    return c.exit_code;
}

}  // namespace

void register_compare(CLI::App& app) {
    auto* cmd = app.add_subcommand("compare", "Compare two runs: per cell speed change with a 95% CI, a Mann-Whitney "
                                              "p-value and a verdict; exit 5 on a regression (the CI gate)");
    cmd->footer(
        "\nCells are matched by backend, device name, workload, scenario, dtype, threads and the scenario's parameters. "
        "Each side's repetition samples give the speed ratio (Hodges-Lehmann, 95% CI) and a two-sided Mann-Whitney U "
        "p-value. Verdicts: faster, slower, same, noisy (repetitions vary more than --max-cv: no verdict), missing, new, "
        "parity changed, failed.\n"
        "A regression is a slowdown beyond --threshold with p below --alpha. BASE and CAND from different hosts are "
        "compared as instances (tokens/s, % of limit, memory, tokens/s per core); their regressions gate only with "
        "--gate.\n"
        "Exit codes: 0 no regression, 2 nothing comparable or a file that is not an rwkvbench results document, 3 an "
        "output check went PASS→FAIL, 5 a regression.\n"
        "Example (CI): rwkvbench compare baseline/results.json rwkvbench-results/latest || exit $?");
    auto a = std::make_shared<CompareArgs>();
    cmd->add_option("BASE", a->base, "Baseline: results.json, a merged document, or a run directory")->required();
    cmd->add_option("CAND", a->cand, "Candidate: the same kinds")->required();
    cmd->add_option("--threshold", a->options.threshold, "Smallest change that counts, as a fraction (0.05 = 5%)")
        ->capture_default_str()
        ->check(finite_number(0, 10));
    cmd->add_option("--alpha", a->options.alpha, "Significance level of the Mann-Whitney test")
        ->capture_default_str()
        ->check(finite_number(0, 1));
    cmd->add_option("--max-cv", a->options.max_cv,
                    "Coefficient of variation of repetitions above which a cell is noisy (no verdict)")
        ->capture_default_str()
        ->check(finite_number(0, 100));
    cmd->add_flag("--gate", a->options.gate, "Gate on regressions between different hosts too (exit 5)");
    cmd->add_option("--format", a->format, "table, md or json")->check(CLI::IsMember({"table", "md", "json"}));
    cmd->add_option("-o,--output", a->output, "Write the comparison to this file (format from --format or the extension)");
    set_action(cmd, [a] { return compare(*a); });
}

}  // namespace rwkvb
