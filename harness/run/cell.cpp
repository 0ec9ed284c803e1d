#include "run/cell.hpp"

#include "io/sha256.hpp"
#include "io/utf8.hpp"

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
    return fmt::format("{}.{}.{}.{}.{}", safe_id_component(backend), device, safe_id_component(workload),
                       safe_id_component(scenario), safe_id_component(dtype));
}

void to_json(nlohmann::json& j, const ScenarioParams& p) {
    j = nlohmann::json{{"prompt_tokens", p.prompt_tokens}, {"decode_tokens", p.decode_tokens},
                       {"batch", p.batch},                 {"long_positions", p.long_positions},
                       {"long_samples", p.long_samples},   {"parity_tokens", p.parity_tokens},
                       {"warmup", p.warmup},               {"repetitions", p.repetitions},
                       {"min_time_s", p.min_time_s}};
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
    if (auto it = j.find("parity_thresholds"); it != j.end() && it->is_object()) c.parity_thresholds = *it;
}

std::string spec_hash(const CellSpec& spec) {
    const std::string canonical = json_text(nlohmann::json(spec), -1);  // std::map: keys sorted
    return sha256_hex(std::as_bytes(std::span(canonical.data(), canonical.size())));
}

void stamp_spec(nlohmann::json& record, const CellSpec& spec) {
    record["spec"] = spec;
    record["spec_hash"] = spec_hash(spec);
}

namespace {

// "params.decode_tokens is 32, the plan says 8" for the first fields (at most 3) that differ.
void list_differences(const nlohmann::json& recorded, const nlohmann::json& planned, const std::string& prefix,
                      std::vector<std::string>& out) {
    if (recorded.is_object() && planned.is_object()) {
        std::vector<std::string> keys;
        for (const auto& [k, v] : recorded.items()) keys.push_back(k);
        for (const auto& [k, v] : planned.items())
            if (!recorded.contains(k)) keys.push_back(k);
        for (const auto& k : keys) {
            if (out.size() >= 3) return;
            const nlohmann::json none;
            list_differences(recorded.contains(k) ? recorded[k] : none, planned.contains(k) ? planned[k] : none,
                             prefix + k + ".", out);
        }
        return;
    }
    if (recorded != planned && out.size() < 3)
        out.push_back(fmt::format("{} is {}, the plan says {}", prefix.substr(0, prefix.size() - 1),
                                  json_text(recorded, -1), json_text(planned, -1)));
}

}  // namespace

std::string record_spec_mismatch(const nlohmann::json& record, const CellSpec& spec) {
    const auto stored = record.find("spec");
    if (stored == record.end() || !stored->is_object()) return "it holds no spec";
    CellSpec recorded;
    try {
        recorded = stored->get<CellSpec>();
    } catch (const nlohmann::json::exception&) {
        return "its spec is malformed";
    }
    const std::string planned_hash = spec_hash(spec);
    if (spec_hash(recorded) != planned_hash) {
        std::vector<std::string> differences;
        list_differences(nlohmann::json(recorded), nlohmann::json(spec), "", differences);
        std::string text;
        for (const auto& d : differences) text += (text.empty() ? "" : "; ") + d;
        return text.empty() ? "its spec differs from the plan's" : text;
    }
    if (const auto h = record.find("spec_hash"); h != record.end() && !(h->is_string() && *h == planned_hash))
        return "its spec_hash is not the hash of the plan's spec";
    return "";
}

}  // namespace rwkvb
