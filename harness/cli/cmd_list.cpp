// `rwkvbench list`: what this machine offers — every plugin found (or the one line saying why
// it cannot be used), its devices, the workload presets and the scenarios. Never crashes or
// hangs on a broken plugin: each is described by its own child process (discovery.hpp).
#include "cli/commands.hpp"
#include "plugin/discovery.hpp"
#include "dtype.hpp"
#include "vocabulary.hpp"
#include "model_config.hpp"
#include "presets.hpp"
#include "io/utf8.hpp"

#include <fmt/format.h>
#include <rwkvbench/backend.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <iostream>
#include <memory>

namespace rwkvb {
namespace {

struct ListArgs {
    std::string format = "table";
    std::vector<std::filesystem::path> plugins;
    DiscoveryOptions discovery;
};

const std::vector<std::pair<std::string, std::string>>& scenario_descriptions() {
    static const std::vector<std::pair<std::string, std::string>> s = {
        {"prefill", "consume a prompt in sequence mode: tokens/s and time to first logits"},
        {"decode", "one token at a time after a prompt: per-token latency distribution and tokens/s"},
        {"batch", "B independent streams decoding together: aggregate tokens/s, per-stream latency"},
        {"long", "decode far past any prompt: latency and memory against position (should stay flat)"},
        {"parity", "logits over a token stream compared with the float64 golden implementation"},
    };
    return s;
}

nlohmann::json dtype_list(uint32_t mask) {
    nlohmann::json out = nlohmann::json::array();
    for (int d = 0; d < RWKVB_DTYPE_COUNT; ++d) {
        if (!(mask & RWKVB_DTYPE_BIT(d))) continue;
        std::string name(dtype_cli_name(static_cast<DType>(d)));
        if (name.empty()) {
            name = std::string(dtype_name(static_cast<DType>(d)));
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out.push_back(name);
    }
    return out;
}

nlohmann::json device_json(const DeviceDescription& d) {
    if (!d.error.empty()) return nlohmann::json{{"error", d.error}};
    return nlohmann::json{{"name", d.name},
                          {"vendor", d.vendor},
                          {"driver_version", d.driver_version},
                          {"memory_bytes", d.memory_bytes},
                          {"compute_units", d.compute_units},
                          {"weight_dtypes", dtype_list(d.weight_dtypes)},
                          {"compute_dtypes", dtype_list(d.compute_dtypes)},
                          {"logits_dtype", dtype_list(RWKVB_DTYPE_BIT(d.logits_dtype)).at(0)},
                          {"description", d.description}};
}

// Every string in a description is valid UTF-8 already (plugin.cpp, plugin_description.cpp).
nlohmann::json plugin_json(const PluginDescription& p) {
    nlohmann::json j{{"path", valid_utf8(p.path.string())}, {"status", p.status}, {"abi_ok", p.abi_ok}};
    if (p.abi_ok) {
        j["name"] = p.name;
        j["version"] = p.version;
        j["devices"] = nlohmann::json::array();
        for (const auto& d : p.devices) j["devices"].push_back(device_json(d));
        if (p.usable() && p.devices.empty())
            j["note"] = fmt::format("{}: {}", p.name, p.no_device_reason.empty() ? "no device found" : p.no_device_reason);
    }
    if (!p.error.empty()) j["error"] = p.error;
    return j;
}

nlohmann::json listing(const ListArgs& a) {
    nlohmann::json doc{{"plugins", nlohmann::json::array()},
                       {"presets", nlohmann::json::array()},
                       {"scenarios", nlohmann::json::array()}};
    PluginCatalog catalog(a.plugins, a.discovery);
    for (const auto& p : catalog.describe_all()) doc["plugins"].push_back(plugin_json(p));
    for (const auto& p : presets())
        doc["presets"].push_back({{"name", p.name}, {"family", p.family}, {"dims", describe(p.config)}, {"note", p.note}});
    for (const auto& [name, what] : scenario_descriptions()) doc["scenarios"].push_back({{"name", name}, {"description", what}});
    return doc;
}

std::string gib(uint64_t bytes) { return fmt::format("{:.1f} GiB", double(bytes) / (1ull << 30)); }

std::string joined(const nlohmann::json& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ",") + x.get<std::string>();
    return s;
}

void print_table(const nlohmann::json& doc, std::ostream& out) {
    out << "Backends\n";
    if (doc["plugins"].empty()) out << "  (no plugin found; set RWKVBENCH_PLUGIN_PATH or pass --plugin)\n";
    for (const auto& p : doc["plugins"]) {
        if (!p.value("abi_ok", false)) {
            out << fmt::format("  {}  CANNOT LOAD: {}\n", p["path"].get<std::string>(), p["error"].get<std::string>());
            continue;
        }
        out << fmt::format("  {} {}  ({})\n", p["name"].get<std::string>(), p["version"].get<std::string>(),
                           p["path"].get<std::string>());
        // "load-error: …" or "timeout: …": the status a `run` of it would start from.
        if (p.contains("error"))
            out << fmt::format("    {}: {}\n", p["status"].get<std::string>(), p["error"].get<std::string>());
        if (p.contains("note")) out << fmt::format("    {}\n", p["note"].get<std::string>());
        int index = 0;
        for (const auto& d : p["devices"]) {
            if (d.contains("error")) {
                out << fmt::format("    [{}] error: {}\n", index++, d["error"].get<std::string>());
                continue;
            }
            out << fmt::format("    [{}] {} — {}, driver {}, {}, {} compute units\n", index++,
                               d["name"].get<std::string>(), d["vendor"].get<std::string>(),
                               d["driver_version"].get<std::string>(), gib(d["memory_bytes"].get<uint64_t>()),
                               d["compute_units"].get<int>());
            out << fmt::format("        weights {}; compute {}; logits {}\n", joined(d["weight_dtypes"]),
                               joined(d["compute_dtypes"]), d["logits_dtype"].get<std::string>());
            if (!d["description"].get<std::string>().empty())
                out << fmt::format("        {}\n", d["description"].get<std::string>());
        }
    }
    out << "\nWorkload presets (synthetic weights; or --model file.safetensors)\n";
    for (const auto& p : doc["presets"])
        out << fmt::format("  {:<20} {}\n", p["name"].get<std::string>(), p["dims"].get<std::string>());
    out << "\nScenarios\n";
    for (const auto& s : doc["scenarios"])
        out << fmt::format("  {:<8} {}\n", s["name"].get<std::string>(), s["description"].get<std::string>());
}

}  // namespace

void register_list(CLI::App& app) {
    auto* cmd = app.add_subcommand("list", "Show backends, devices, workload presets and scenarios found here");
    auto a = std::make_shared<ListArgs>();
    cmd->add_option("--format", a->format, "table or json")->check(CLI::IsMember({"table", "json"}))->capture_default_str();
    cmd->add_option("--plugin", a->plugins, "Extra plugin library (.so) to describe; repeatable");
    add_discovery_timeout_option(cmd, a->discovery);
    set_action(cmd, [a] {
        const auto doc = listing(*a);
        if (a->format == "json") std::cout << json_text(doc) << "\n";
        else print_table(doc, std::cout);
        return kExitOk;
    });
}

}  // namespace rwkvb
