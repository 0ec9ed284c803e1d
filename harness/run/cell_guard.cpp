#include "run/cell_guard.hpp"

#include "errors.hpp"
#include "plugin/plugin.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>

#include <new>
#include <string>

namespace rwkvb {
namespace {

nlohmann::json failed(const CellSpec& spec, const char* status, const std::string& detail, int code, int* exit_code) {
    *exit_code = code;
    return bare_record(spec, status, detail);
}

}  // namespace

nlohmann::json run_cell_guarded(const CellSpec& spec, const CellEnvironment& env,
                                const std::filesystem::path& outputs, int* exit_code) {
    nlohmann::json record;
    // One load of plugin and model (run_cell): what failed is classified by the error's kind and
    // stage, never by its wording. InputError: the spec, the checkpoint or the plugin's file.
    try {
        record = run_cell(spec, env, outputs);
    } catch (const std::bad_alloc&) {
        return failed(spec, kStatusOom, "oom: the worker ran out of memory (std::bad_alloc)", kWorkerOom, exit_code);
    } catch (const InputError& e) {
        return failed(spec, kStatusLoadError, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
    } catch (const PluginError& e) {
        if (e.before_model_loaded())
            return failed(spec, kStatusLoadError, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
        return failed(spec, kStatusError, std::string("error: ") + e.what(), kWorkerError, exit_code);
    }
    if (!record.is_object()) record = nlohmann::json::object();
    record["id"] = spec.id();  // the parent matches on it
    if (!record.contains("spec")) record["spec"] = spec;
    if (!record.contains("status")) record["status"] = kStatusOk;
    if (!record.contains("status_detail")) record["status_detail"] = "";
    *exit_code = kWorkerOk;
    return record;
}

}  // namespace rwkvb
