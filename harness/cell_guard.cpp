#include "cell_guard.hpp"

#include "errors.hpp"
#include "model_config.hpp"
#include "plugin.hpp"
#include "safetensors.hpp"
#include "worker_process.hpp"

#include <fmt/format.h>

#include <new>
#include <string>

namespace rwkvb {
namespace {

// Everything that must work before a model is in the plugin: its failure is a load-error.
void preflight(const CellSpec& spec) {
    auto plugin = Plugin::load(spec.plugin_path);
    const int n = plugin->device_count();
    if (spec.device < 0 || spec.device >= n)
        throw PluginError(fmt::format("{}: no device {} (it has {})", plugin->name(), spec.device, n));
    plugin->device_info(spec.device);
    auto file = SafetensorsFile::open(spec.model_path);
    detect_config(file);
}

// A PluginError from create() or load() (plugin.cpp's wording) still means no model got loaded.
bool is_load_failure(const std::string& msg) {
    return msg.find(": create failed (") != std::string::npos || msg.find(": load failed (") != std::string::npos;
}

nlohmann::json failed(const CellSpec& spec, const char* status, const std::string& detail, int code, int* exit_code) {
    *exit_code = code;
    return bare_record(spec, status, detail);
}

}  // namespace

nlohmann::json run_cell_guarded(const CellSpec& spec, const CellEnvironment& env, int* exit_code) {
    try {
        preflight(spec);
    } catch (const InputError& e) {
        return failed(spec, kStatusLoadError, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
    } catch (const PluginError& e) {
        return failed(spec, kStatusLoadError, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
    }
    nlohmann::json record;
    try {
        record = run_cell(spec, env);
    } catch (const std::bad_alloc&) {
        return failed(spec, kStatusOom, "oom: the worker ran out of memory (std::bad_alloc)", kWorkerOom, exit_code);
    } catch (const InputError& e) {
        return failed(spec, kStatusLoadError, std::string("load-error: ") + e.what(), kWorkerLoadError, exit_code);
    } catch (const PluginError& e) {
        if (is_load_failure(e.what()))
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
