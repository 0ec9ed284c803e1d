// What a cell is (DESIGN.md §3): (backend, device, workload, scenario, dtype) and the knobs of
// its scenario. The parent plans it, the worker receives it as JSON, and every result record
// carries it, so it belongs to the record's vocabulary rather than to the harness alone.
#pragma once
#include "vocabulary.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace rwkvb {

// Knobs of the scenarios (DESIGN.md §4); defaults keep the default run under 3 minutes.
struct ScenarioParams {
    int prompt_tokens = 128;     // prefill length, and the prompt before decode/batch
    int decode_tokens = 64;      // tokens decoded one at a time (decode, batch)
    int batch = 8;               // streams of the batch scenario
    int long_positions = 16384;  // how far the long scenario decodes
    int long_samples = 16;       // positions at which it measures
    int parity_tokens = 64;      // tokens compared with the golden
    int warmup = 1;              // un-timed repetitions first
    int repetitions = 5;         // timed repetitions (at least)
    double min_time_s = 1.0;     // keep repeating until this much was measured
    // Then go on while the 95% CI of the median is wider than ±target_ci of it (0 = off), until
    // max_time_s was measured in all: precision users can state, on a budget.
    double target_ci = 0.02;
    double max_time_s = 10.0;
};

struct CellSpec {
    std::string backend;                 // backend name, e.g. "onednn"
    std::filesystem::path plugin_path;   // the plugin library that provides it
    int device = 0;                      // device index within the backend
    std::string workload;                // preset name, or the checkpoint's file name
    std::filesystem::path model_path;    // checkpoint to load (synthetic presets are written first)
    Scenario scenario = Scenario::decode;
    std::string dtype = "f32";           // weight dtype, command-line spelling
    uint64_t seed = 1;                   // token stream (and synthetic weights) seed
    int threads = 0;                     // 0 = backend default
    double timeout_s = 600;              // wall-clock limit of the worker
    std::string plugin_options;          // extra "key=value,..." passed to create()
    ScenarioParams params;
    // Parity thresholds overriding DESIGN.md §6 defaults (absent = default for the dtype).
    nlohmann::json parity_thresholds = nlohmann::json::object();

    // Swept parameters that tell this cell from its siblings ("t2.p512": --threads 2 --prompt
    // 512); empty when nothing was swept, so an unswept cell keeps its id across runs.
    std::string sweep;

    // Stable, filesystem-safe identifier: "<backend>.<device>.<workload>.<scenario>.<dtype>",
    // then ".<sweep>" when parameters were swept.
    std::string id() const;
};

// One field of an id: [A-Za-z0-9_+-] kept, anything else '_' ("my.model" → "my_model").
std::string safe_id_component(const std::string& s);

void to_json(nlohmann::json& j, const ScenarioParams& p);
void from_json(const nlohmann::json& j, ScenarioParams& p);
void to_json(nlohmann::json& j, const CellSpec& c);
void from_json(const nlohmann::json& j, CellSpec& c);

}  // namespace rwkvb
