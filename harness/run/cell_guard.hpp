// Running a cell so that every failure becomes a record, never an escaping exception: shared by
// the worker process (cmd_worker.cpp) and `run --no-isolate` (in-process, for debugging).
#pragma once
#include "run/cell.hpp"

#include <nlohmann/json.hpp>

namespace rwkvb {

// Runs the cell (writing its output checks' logits to `outputs`, see run_cell) and returns its
// record; the worker exit code that goes with it (worker
// protocol of worker_process.hpp) is stored in `*exit_code`. Failures before the model is in
// the plugin are load-error (10), later plugin failures error (11), std::bad_alloc oom (12).
// Exceptions that are bugs of ours (neither InputError nor PluginError) propagate.
CellResult run_cell_guarded(const CellSpec& spec, const CellEnvironment& env,
                                const std::filesystem::path& outputs, int* exit_code);

}  // namespace rwkvb
