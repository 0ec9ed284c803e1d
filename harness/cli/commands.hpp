// One file per subcommand; each registers itself on the app and sets the action main() runs.
// An action returns the process exit code (vocabulary.hpp, ExitCode); InputError thrown from it exits 2,
// PluginError exits 4, anything else is a bug of ours and exits 1.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <map>

namespace rwkvb {

void set_action(CLI::App* command, std::function<int()> action);
// The actions set so far, by subcommand (main() runs the one parsed).
std::map<const CLI::App*, std::function<int()>>& command_actions();

void register_models(CLI::App& app);   // cmd_models.cpp: list presets with their costs
void register_synth(CLI::App& app);    // cmd_synth.cpp: write synthetic weights
void register_logits(CLI::App& app);   // cmd_logits.cpp: dump a backend's logits
void register_list(CLI::App& app);     // cmd_list.cpp: backends, devices, presets, scenarios
void register_run(CLI::App& app);      // cmd_run.cpp: plan and run cells in workers
void register_worker(CLI::App& app);   // cmd_worker.cpp: one cell, in a child process
void register_probe(CLI::App& app);    // cmd_probe.cpp: describe one plugin, in a child process
void register_golden(CLI::App& app);   // cmd_golden.cpp: golden logits, in a clean child process
void register_limits(CLI::App& app);   // cmd_limits.cpp: this host's bandwidth and GEMM peak
void register_compare(CLI::App& app);  // cmd_compare.cpp: two runs, per-cell verdicts, the CI gate
void register_merge(CLI::App& app);    // cmd_merge.cpp: runs of many hosts in one document, fleet table
void register_certify(CLI::App& app);  // cmd_certify.cpp: a finished run judged VALID/INVALID, --verify

}  // namespace rwkvb
