// Planning a run: from the `run` options to the list of cells (DESIGN.md §3). Backends are
// resolved against the plugins found here, presets against workloads/presets.hpp; every bad
// name is an InputError listing what is available. Nothing here starts a worker.
#pragma once
#include "run/cell.hpp"
#include "plugin/discovery.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rwkvb {

// What the user asked for; lists are already split at commas.
struct RunOptions {
    std::vector<std::string> backends = {"all"};  // "reference", "opencl:1", "all"
    std::vector<std::string> workloads;           // preset names; default rwkv7-0.1b unless models
    std::vector<std::filesystem::path> models;    // user checkpoints (--model)
    std::vector<std::string> scenarios = {"decode", "prefill", "parity"};
    std::vector<std::string> dtypes = {"f32"};
    uint64_t seed = 1;
    // Swept values (llama-bench style: each list multiplies the cells of the scenarios it shapes);
    // an empty list means the single value in `params`.
    std::vector<int> threads = {0};      // 0 = the backend's default
    std::vector<int> prompt_tokens;      // prefill, decode, batch
    std::vector<int> decode_tokens;      // decode, batch
    std::vector<int> batch;              // batch
    std::vector<int> long_positions;     // long
    double timeout_s = 600;
    std::string plugin_options;
    ScenarioParams params;
    std::vector<std::filesystem::path> plugins;  // --plugin, in addition to the search dirs
    DiscoveryOptions discovery;                  // how each plugin is described (a child, a timeout)
    // --parity-* overrides of the DESIGN.md §6 defaults: {"max_rel_l2": x | null, ...}.
    nlohmann::json parity_thresholds = nlohmann::json::object();
    // --interleave: rounds each timed cell is measured in (1 = in one go; run/interleave.hpp).
    // Not a property of any cell: plan.json keeps it in its "run" metadata for --resume.
    int interleave = 1;
};

// One backend selector: "opencl:1" → {"opencl", 1}; "reference" → {"reference", nullopt}.
struct BackendSelector {
    std::string name;
    std::optional<int> device;
};
BackendSelector parse_backend_selector(const std::string& text);  // InputError if malformed

// A synthetic checkpoint the parent writes once before the cells run.
struct SyntheticModel {
    std::string preset;
    uint64_t seed = 1;
    std::filesystem::path path;
};

struct PlannedCell {
    CellSpec spec;
    std::string skip_reason;  // non-empty: recorded as "skipped" without a worker
};

struct Plan {
    std::vector<PlannedCell> cells;
    std::vector<SyntheticModel> models;  // to write before running
    std::vector<std::string> notes;      // said on stderr: skipped backends, broken plugins
};

// Where a preset's synthetic weights for `seed` live: <models_dir>/<preset>-s<seed>.safetensors.
std::filesystem::path synthetic_model_path(const std::filesystem::path& models_dir, const std::string& preset,
                                           uint64_t seed);

// Builds the cell list. `models_dir` is where synthetic checkpoints go (cache_dir()/models).
// Throws InputError on an unknown backend, preset, scenario or dtype, or a missing or malformed
// --model file (its header and tensor set are checked here, before any cell runs).
Plan make_plan(const RunOptions& options, const std::filesystem::path& models_dir);

// Why the cached file of `m` cannot be used ("missing", "made by generator …", "holds seed 2",
// a dtype or shape mismatch, unreadable, no pinned SHA-256, bytes that no longer hash to it), or
// "" when its metadata (generator version, preset, seed), dtype (F32) and shapes match and its
// SHA-256 (stored in `digest` if given) equals the one pinned beside it when it was written. A
// file merely existing is not enough.
std::string synthetic_model_staleness(const SyntheticModel& m, std::string* digest = nullptr);
// "<model>.sha256": the SHA-256 of a synthetic checkpoint, written with it.
std::filesystem::path synthetic_model_pin_path(const std::filesystem::path& model);
// Writes each synthetic checkpoint that is missing or stale (the writer is atomic) and pins its
// SHA-256 beside it, calling `on_write` with the reason first. Returns every model's verified
// SHA-256, by path.
std::map<std::filesystem::path, std::string> prepare_models(
    const std::vector<SyntheticModel>& models,
    const std::function<void(const SyntheticModel&, const std::string& why)>& on_write = {});

void to_json(nlohmann::json& j, const PlannedCell& c);
void from_json(const nlohmann::json& j, PlannedCell& c);
void to_json(nlohmann::json& j, const SyntheticModel& m);
void from_json(const nlohmann::json& j, SyntheticModel& m);

}  // namespace rwkvb
