#include "run/cell_guard.hpp"

#include "errors.hpp"
#include "plugin/plugin.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>

#include <new>
#include <string>

namespace rwkvb {
namespace {

CellResult failed(const CellSpec& spec, CellStatus status, const std::string& detail, int code, int* exit_code) {
    *exit_code = code;
    return bare_result(spec, status, detail);
}

}  // namespace

CellResult run_cell_guarded(const CellSpec& spec, const CellEnvironment& env,
                                const std::filesystem::path& outputs, int* exit_code) {
    CellResult record;
    // One load of plugin and model (run_cell): what failed is classified by the error's kind and
    // stage, never by its wording. InputError: the spec, the checkpoint or the plugin's file.
    try {
        record = run_cell(spec, env, outputs);
    } catch (const std::bad_alloc&) {
        return failed(spec, CellStatus::oom, "oom: the worker ran out of memory (std::bad_alloc)", kWorkerOom, exit_code);
    } catch (const InputError& e) {
        return failed(spec, CellStatus::load_error, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
    } catch (const PluginError& e) {
        if (e.before_model_loaded())
            return failed(spec, CellStatus::load_error, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
        return failed(spec, CellStatus::error, std::string("error: ") + e.what(), kWorkerError, exit_code);
    }
    record.id = spec.id();  // the parent matches on it
    *exit_code = kWorkerOk;
    return record;
}

}  // namespace rwkvb
