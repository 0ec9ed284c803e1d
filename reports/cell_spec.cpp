#include "cell_spec.hpp"

#include <fmt/format.h>

#include <limits>
#include <type_traits>

namespace rwkvb {
namespace {

// Whether `v` may be read as the integer type T: nlohmann casts any number, so 1e300 into an int
// is undefined behaviour and -1 into a uint64_t wraps. Non-numbers pass: get<T> refuses them.
template <typename T>
bool integer_fits(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max());
    if (v.is_number_integer()) {
        const int64_t x = v.get<int64_t>();
        return x >= 0 ? uint64_t(x) <= uint64_t(std::numeric_limits<T>::max())
                      : std::is_signed_v<T> && x >= int64_t(std::numeric_limits<T>::min());
    }
    return !v.is_number_float();
}

// Reads j[key] into out when present; absent keys keep the default already in `out`.
template <typename T>
void get_if(const nlohmann::json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if constexpr (std::is_integral_v<T>)
        if (!integer_fits<T>(*it))
            throw nlohmann::json::type_error::create(302, fmt::format("'{}' is not an integer in range", key), &*it);
    out = it->get<T>();
}

void get_path_if(const nlohmann::json& j, const char* key, std::filesystem::path& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) out = it->get<std::string>();
}

}  // namespace

// Keeps [A-Za-z0-9_+-] and turns everything else (path separators, spaces, dots) into '_',
// so an id is one file name on any filesystem and '.' stays the field separator.
std::string safe_id_component(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '+';
        out.push_back(ok ? c : '_');
    }
    return out.empty() ? "_" : out;
}

std::string CellSpec::id() const {
    const std::string base = fmt::format("{}.{}.{}.{}.{}", safe_id_component(backend), device,
                                         safe_id_component(workload), to_string(scenario), safe_id_component(dtype));
    return sweep.empty() ? base : base + "." + safe_id_component(sweep);
}

void to_json(nlohmann::json& j, const ScenarioParams& p) {
    j = nlohmann::json{{"prompt_tokens", p.prompt_tokens}, {"decode_tokens", p.decode_tokens},
                       {"batch", p.batch},                 {"long_positions", p.long_positions},
                       {"long_samples", p.long_samples},   {"parity_tokens", p.parity_tokens},
                       {"warmup", p.warmup},               {"repetitions", p.repetitions},
                       {"min_time_s", p.min_time_s},       {"target_ci", p.target_ci},
                       {"max_time_s", p.max_time_s}};
}

void from_json(const nlohmann::json& j, ScenarioParams& p) {
    get_if(j, "prompt_tokens", p.prompt_tokens);
    get_if(j, "decode_tokens", p.decode_tokens);
    get_if(j, "batch", p.batch);
    get_if(j, "long_positions", p.long_positions);
    get_if(j, "long_samples", p.long_samples);
    get_if(j, "parity_tokens", p.parity_tokens);
    get_if(j, "warmup", p.warmup);
    get_if(j, "repetitions", p.repetitions);
    get_if(j, "min_time_s", p.min_time_s);
    get_if(j, "target_ci", p.target_ci);
    get_if(j, "max_time_s", p.max_time_s);
}

void to_json(nlohmann::json& j, const CellSpec& c) {
    j = nlohmann::json{{"backend", c.backend},
                       {"plugin_path", c.plugin_path.string()},
                       {"device", c.device},
                       {"workload", c.workload},
                       {"model_path", c.model_path.string()},
                       {"scenario", c.scenario},
                       {"dtype", c.dtype},
                       {"seed", c.seed},
                       {"threads", c.threads},
                       {"timeout_s", c.timeout_s},
                       {"plugin_options", c.plugin_options},
                       {"params", c.params},
                       {"parity_thresholds", c.parity_thresholds}};
    if (!c.sweep.empty()) j["sweep"] = c.sweep;  // absent when not swept: older plans hash the same
}

void from_json(const nlohmann::json& j, CellSpec& c) {
    if (!j.is_object()) throw nlohmann::json::type_error::create(302, "a cell spec must be a JSON object", &j);
    get_if(j, "backend", c.backend);
    get_path_if(j, "plugin_path", c.plugin_path);
    get_if(j, "device", c.device);
    get_if(j, "workload", c.workload);
    get_path_if(j, "model_path", c.model_path);
    get_if(j, "scenario", c.scenario);
    get_if(j, "dtype", c.dtype);
    get_if(j, "seed", c.seed);
    get_if(j, "threads", c.threads);
    get_if(j, "timeout_s", c.timeout_s);
    get_if(j, "plugin_options", c.plugin_options);
    get_if(j, "params", c.params);
    get_if(j, "sweep", c.sweep);
    if (auto it = j.find("parity_thresholds"); it != j.end() && it->is_object()) c.parity_thresholds = *it;
}

}  // namespace rwkvb
