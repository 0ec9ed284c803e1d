#include "run/plan.hpp"

#include "plugin/discovery.hpp"
#include "dtype.hpp"
#include "errors.hpp"
#include "model_config.hpp"
#include "parity/parity.hpp"
#include "presets.hpp"
#include "safetensors.hpp"
#include "io/sha256.hpp"
#include "io/atomic_file.hpp"
#include "synth.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <set>

namespace rwkvb {
namespace {

std::string backend_names(const std::vector<PluginDescription>& found) {
    std::string list;
    for (const auto& f : found) list += (list.empty() ? "" : ", ") + (f.name.empty() ? f.file_name() : f.name);
    return list.empty() ? "none (no plugin found; see `rwkvbench list`)" : list;
}

// A backend without devices says why when it can (e.g. "no OpenCL platform found").
std::string no_device_note(const PluginDescription& f) {
    const std::string why = f.no_device_reason.empty() ? "" : ": " + f.no_device_reason;
    return fmt::format("{}: no device here{} — skipped", f.name, why);
}

std::vector<std::string> dtype_names() { return {"f64", "f32", "f16", "bf16", "int8"}; }

// 8 hex digits of FNV-1a over the path: a stable tag telling apart checkpoints named alike.
std::string path_tag(const std::filesystem::path& p) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : p.string()) h = (h ^ c) * 1099511628211ull;
    return fmt::format("{:08x}", uint32_t(h ^ (h >> 32)));
}

}  // namespace

BackendSelector parse_backend_selector(const std::string& text) {
    BackendSelector s;
    const auto colon = text.find(':');
    s.name = text.substr(0, colon);
    if (s.name.empty()) throw InputError(fmt::format("--backend '{}': a backend name is missing", text));
    if (colon != std::string::npos) {
        const std::string dev = text.substr(colon + 1);
        int d = -1;
        auto [ptr, ec] = std::from_chars(dev.data(), dev.data() + dev.size(), d);
        if (dev.empty() || ec != std::errc() || ptr != dev.data() + dev.size() || d < 0)
            throw InputError(fmt::format("--backend '{}': the device after ':' must be a number like "
                                         "'opencl:1'",
                                         text));
        s.device = d;
    }
    return s;
}

std::filesystem::path synthetic_model_path(const std::filesystem::path& models_dir, const std::string& preset,
                                           uint64_t seed) {
    return models_dir / fmt::format("{}-s{}.safetensors", preset, seed);
}

namespace {

// One point of a sweep: the threads and parameters of one cell, and the label its id gets.
struct SweepVariant {
    int threads = 0;
    ScenarioParams params;
    std::string label;  // "t2.p512": only the swept parameters this scenario uses
};

// The cross product of the swept lists that shape `scenario` (a parity cell is not multiplied by
// --prompt, which it does not use). A list of one value is not a sweep and labels nothing.
std::vector<SweepVariant> sweep_variants(const RunOptions& o, Scenario scenario) {
    struct Axis {
        const char* tag;
        const std::vector<int>* values;
        int ScenarioParams::*field;  // nullptr: threads
        bool used;
    };
    const bool decodes = scenario == Scenario::decode || scenario == Scenario::batch;
    const Axis axes[] = {
        {"t", &o.threads, nullptr, true},
        {"p", &o.prompt_tokens, &ScenarioParams::prompt_tokens, scenario == Scenario::prefill || decodes},
        {"n", &o.decode_tokens, &ScenarioParams::decode_tokens, decodes},
        {"b", &o.batch, &ScenarioParams::batch, scenario == Scenario::batch},
        {"l", &o.long_positions, &ScenarioParams::long_positions, scenario == Scenario::long_context},
    };
    std::vector<SweepVariant> out = {{o.threads.empty() ? 0 : o.threads.front(), o.params, ""}};
    for (const auto& axis : axes) {
        if (axis.values->empty()) continue;
        // Values repeated in a list ("--threads 2,2") are one value.
        std::vector<int> values;
        for (int v : *axis.values)
            if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
        // Unused by this scenario: the first value stands (it changes nothing the cell measures).
        if (!axis.used) values.resize(1);
        std::vector<SweepVariant> next;
        for (const auto& base : out)
            for (int v : values) {
                SweepVariant s = base;
                if (axis.field) s.params.*axis.field = v;
                else s.threads = v;
                if (values.size() > 1) s.label += (s.label.empty() ? "" : ".") + fmt::format("{}{}", axis.tag, v);
                next.push_back(std::move(s));
            }
        out = std::move(next);
    }
    return out;
}

}  // namespace

Plan make_plan(const RunOptions& o, const std::filesystem::path& models_dir) {
    Plan plan;
    std::vector<Scenario> scenarios;
    for (const auto& s : o.scenarios) {
        const auto sc = from_string<Scenario>(s);
        if (!sc) throw InputError(fmt::format("unknown scenario '{}': choose from {}", s, names_text<Scenario>()));
        if (std::find(scenarios.begin(), scenarios.end(), *sc) == scenarios.end()) scenarios.push_back(*sc);
    }
    if (o.threads.empty()) throw InputError("--threads: no value given");
    for (const auto& d : o.dtypes)
        if (!dtype_from_cli_name(d))
            throw InputError(fmt::format("unknown dtype '{}': choose from {}", d, fmt::join(dtype_names(), ", ")));
    if (o.scenarios.empty()) throw InputError("--scenario: no scenario given");
    thresholds_with_overrides(DType::F32, o.parity_thresholds);  // a bad --parity-* value fails here
    if (o.dtypes.empty()) throw InputError("--dtype: no dtype given");

    // Workloads: presets (synthetic weights written once) and user checkpoints.
    struct Workload {
        std::string name;
        std::filesystem::path path;
    };
    std::vector<Workload> workloads;
    std::vector<std::string> presets_asked = o.workloads;
    if (presets_asked.empty() && o.models.empty()) presets_asked.push_back("rwkv7-0.1b");
    for (const auto& name : presets_asked) {
        if (!find_preset(name)) {
            std::vector<std::string> names;
            for (const auto& p : presets()) names.push_back(p.name);
            throw InputError(fmt::format("unknown workload preset '{}': available are {} (or pass --model "
                                         "file.safetensors)",
                                         name, fmt::join(names, ", ")));
        }
        const auto path = synthetic_model_path(models_dir, name, o.seed);
        workloads.push_back({name, path});
        plan.models.push_back({name, o.seed, path});
    }
    const size_t n_presets = workloads.size();
    for (const auto& m : o.models) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(m, ec))
            throw InputError(fmt::format("--model {}: no such checkpoint file", m.string()));
        // A malformed checkpoint is the user's input: refuse it here (exit 2, one line naming
        // the file), not as a load-error in every cell of the run.
        detect_config(SafetensorsFile::open(m));
        auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(m), ec);
        if (ec) path = std::filesystem::absolute(m);
        const auto same = [&](const Workload& w) { return w.path == path; };
        if (std::none_of(workloads.begin() + std::ptrdiff_t(n_presets), workloads.end(), same))
            workloads.push_back({m.stem().string(), path});  // the same file twice is one workload
    }
    // Checkpoints whose names would give the same cell ids (model.safetensors in two folders, or
    // a file named like a preset) get a short hash of their path appended: no cell may silently
    // replace another.
    std::map<std::string, int> uses;
    for (const auto& w : workloads) ++uses[safe_id_component(w.name)];
    for (size_t i = n_presets; i < workloads.size(); ++i)
        if (uses[safe_id_component(workloads[i].name)] > 1) workloads[i].name += "-" + path_tag(workloads[i].path);

    // Backends and devices, each plugin described by a child process (discovery.hpp): none is
    // loaded here, so none can hang or crash the planning.
    PluginCatalog catalog(o.plugins, o.discovery);
    struct Target {
        const PluginDescription* plugin;
        std::string backend;
        int device;
    };
    std::vector<Target> targets;
    for (const auto& text : o.backends) {
        if (text == "all") {
            for (const auto& f : catalog.describe_all()) {
                if (!f.usable()) {
                    plan.notes.push_back(fmt::format("skipping a plugin that cannot load: {}", f.error));
                    continue;
                }
                if (f.name == "reference" || f.name == "template") continue;
                if (f.devices.empty()) plan.notes.push_back(no_device_note(f));
                for (int d = 0; d < static_cast<int>(f.devices.size()); ++d) targets.push_back({&f, f.name, d});
            }
            continue;
        }
        const BackendSelector sel = parse_backend_selector(text);
        const PluginDescription* match = catalog.find(sel.name);
        if (!match)
            throw InputError(fmt::format("unknown backend '{}': available are {}", sel.name,
                                         backend_names(catalog.describe_all())));
        // A plugin that cannot load is still a cell when asked for by name: its worker records
        // the load error, so the run says what is wrong with it instead of refusing to start.
        if (!match->usable()) {
            plan.notes.push_back(fmt::format("{} (its cells run anyway, each worker recording what happens)", match->error));
            targets.push_back({match, sel.name, sel.device.value_or(0)});
            continue;
        }
        const int devices = static_cast<int>(match->devices.size());
        if (devices == 0) {
            plan.notes.push_back(no_device_note(*match));
            continue;
        }
        if (sel.device) {
            if (*sel.device >= devices)
                throw InputError(fmt::format("--backend {}: {} has no device {} (it has {}; see `rwkvbench list`)",
                                             text, sel.name, *sel.device, devices));
            targets.push_back({match, sel.name, *sel.device});
        } else {
            for (int d = 0; d < devices; ++d) targets.push_back({match, sel.name, d});
        }
    }

    std::set<std::string> ids;
    for (const auto& t : targets) {
        uint32_t weight_mask = ~0u;  // unknown (plugin or device unusable): let the worker report it
        std::string device_name;
        if (t.plugin->usable() && t.device < static_cast<int>(t.plugin->devices.size()) &&
            t.plugin->devices[t.device].error.empty()) {
            weight_mask = t.plugin->devices[t.device].weight_dtypes;
            device_name = t.plugin->devices[t.device].name;
        }
        for (const auto& w : workloads)
            for (const auto scenario : scenarios)
                for (const auto& dtype : o.dtypes)
                    for (const auto& variant : sweep_variants(o, scenario)) {
                    PlannedCell c;
                    c.spec.backend = t.backend;
                    c.spec.plugin_path = t.plugin->path;
                    c.spec.device = t.device;
                    c.spec.workload = w.name;
                    c.spec.model_path = w.path;
                    c.spec.scenario = scenario;
                    c.spec.dtype = dtype;
                    c.spec.seed = o.seed;
                    c.spec.threads = variant.threads;
                    c.spec.timeout_s = o.timeout_s;
                    c.spec.plugin_options = o.plugin_options;
                    c.spec.params = variant.params;
                    c.spec.sweep = variant.label;
                    c.spec.parity_thresholds = o.parity_thresholds;
                    const DType dt = *dtype_from_cli_name(dtype);
                    if (!(weight_mask & RWKVB_DTYPE_BIT(static_cast<int>(dt))))
                        c.skip_reason = fmt::format("{} device {} ({}) does not offer {} weights", t.backend,
                                                    t.device, device_name, dtype);
                    // A repeated id is the same cell asked for twice ("-b x,x"): run it once.
                    // Any other repeat would lose a cell without a word: refuse it instead.
                    if (!ids.insert(c.spec.id()).second) {
                        const auto& first = std::find_if(plan.cells.begin(), plan.cells.end(), [&](const PlannedCell& p) {
                            return p.spec.id() == c.spec.id();
                        })->spec;
                        if (first.model_path != c.spec.model_path || first.plugin_path != c.spec.plugin_path)
                            throw InputError(fmt::format("two different cells would share the id '{}' ({} and {}): "
                                                         "rename one of the checkpoints",
                                                         c.spec.id(), first.model_path.string(),
                                                         c.spec.model_path.string()));
                        continue;
                    }
                    plan.cells.push_back(std::move(c));
                }
    }
    if (plan.cells.empty() && plan.notes.empty()) plan.notes.push_back("no backend selected: nothing to run");
    return plan;
}

std::string synthetic_model_staleness(const SyntheticModel& m, std::string* digest) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(m.path, ec)) return "missing";
    const Preset* p = find_preset(m.preset);
    if (!p) throw InputError(fmt::format("unknown workload preset '{}'", m.preset));
    try {
        const auto file = SafetensorsFile::open(m.path);
        const auto& meta = file.metadata();
        auto field = [&](const char* k) {
            const auto it = meta.find(k);
            return it == meta.end() ? std::string("(none)") : it->second;
        };
        if (field("generator") != kSynthGenerator)
            return fmt::format("made by generator {}, this build's is {}", field("generator"), kSynthGenerator);
        if (field("preset") != m.preset) return fmt::format("holds preset {}", field("preset"));
        if (field("seed") != std::to_string(m.seed)) return fmt::format("holds seed {}", field("seed"));
        for (const auto& t : file.tensors())
            if (t.dtype != DType::F32) return fmt::format("tensor '{}' is {}, not F32", t.name, dtype_name(t.dtype));
        if (describe(detect_config(file)) != describe(p->config)) return "its shapes differ from the preset's";
    } catch (const InputError& e) {
        return fmt::format("unreadable ({})", e.what());
    }
    // Metadata and shapes can be right while the numbers were edited: the bytes must still hash
    // to what was pinned when the file was written.
    std::ifstream pin(synthetic_model_pin_path(m.path));
    std::string pinned;
    if (!(pin >> pinned)) return "has no pinned SHA-256 beside it";
    const std::string actual = sha256_file(m.path);
    if (actual != pinned) return "no longer matches the SHA-256 pinned when it was written (edited or damaged)";
    if (digest) *digest = actual;
    return "";
}

std::filesystem::path synthetic_model_pin_path(const std::filesystem::path& model) {
    return model.string() + ".sha256";
}

std::map<std::filesystem::path, std::string> prepare_models(
    const std::vector<SyntheticModel>& models,
    const std::function<void(const SyntheticModel&, const std::string&)>& on_write) {
    std::map<std::filesystem::path, std::string> digests;
    for (const auto& m : models) {
        // A plan is a file anyone can edit: never write weights under a name they did not get here.
        if (m.path.filename() != synthetic_model_path("", m.preset, m.seed).filename())
            throw InputError(fmt::format("{}: not the file name of preset {} seed {} ({}); the plan was edited",
                                         m.path.string(), m.preset, m.seed,
                                         synthetic_model_path("", m.preset, m.seed).string()));
        std::string digest;
        const std::string why = synthetic_model_staleness(m, &digest);
        if (why.empty()) {
            digests[m.path] = digest;
            continue;
        }
        if (on_write) on_write(m, why);
        const Preset* p = find_preset(m.preset);
        std::error_code ec;
        std::filesystem::create_directories(m.path.parent_path(), ec);
        if (ec) throw InputError(fmt::format("{}: cannot create: {}", m.path.parent_path().string(), ec.message()));
        write_synthetic_model(p->config, m.seed, DType::F32, m.path, m.preset);
        digests[m.path] = sha256_file(m.path);
        write_file_atomically(synthetic_model_pin_path(m.path), digests[m.path] + "\n");
    }
    return digests;
}

void to_json(nlohmann::json& j, const PlannedCell& c) {
    j = nlohmann::json{{"id", c.spec.id()}, {"spec", c.spec}};
    if (!c.skip_reason.empty()) j["skip_reason"] = c.skip_reason;
}

void from_json(const nlohmann::json& j, PlannedCell& c) {
    c.spec = j.at("spec").get<CellSpec>();
    c.skip_reason = j.value("skip_reason", std::string());
}

void to_json(nlohmann::json& j, const SyntheticModel& m) {
    j = nlohmann::json{{"preset", m.preset}, {"seed", m.seed}, {"path", m.path.string()}};
}

void from_json(const nlohmann::json& j, SyntheticModel& m) {
    m.preset = j.at("preset").get<std::string>();
    // Only an unsigned integer: nlohmann would cast -1 (a wrap) or 1e300 (undefined behaviour).
    if (!j.at("seed").is_number_unsigned())
        throw nlohmann::json::type_error::create(302, "a synthetic model's seed must be an unsigned integer", &j);
    m.seed = j.at("seed").get<uint64_t>();
    m.path = j.at("path").get<std::string>();
}

}  // namespace rwkvb
