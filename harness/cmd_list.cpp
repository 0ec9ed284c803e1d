// `rwkvbench list`: what this machine offers — every plugin found (or the one line saying why
// it cannot load), its devices, the workload presets and the scenarios. Never crashes on a
// broken plugin: each plugin is described independently.
#include "commands.hpp"
#include "dtype.hpp"
#include "exit_codes.hpp"
#include "model_config.hpp"
#include "plugin.hpp"
#include "presets.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <iostream>
#include <memory>
#include <set>

namespace rwkvb {
namespace {

struct ListArgs {
    std::string format = "table";
    std::vector<std::filesystem::path> plugins;
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

nlohmann::json describe_device(const rwkvb_device_info& info) {
    return nlohmann::json{{"name", info.name},
                          {"vendor", info.vendor},
                          {"driver_version", info.driver_version},
                          {"memory_bytes", info.memory_bytes},
                          {"compute_units", info.compute_units},
                          {"weight_dtypes", dtype_list(info.weight_dtypes)},
                          {"compute_dtypes", dtype_list(info.compute_dtypes)},
                          {"logits_dtype", dtype_list(RWKVB_DTYPE_BIT(info.logits_dtype))[0]},
                          {"description", info.description}};
}

// One plugin, every failure caught into "error" so the listing goes on.
nlohmann::json describe_plugin(const std::filesystem::path& path) {
    nlohmann::json j{{"path", path.string()}};
    std::shared_ptr<Plugin> plugin;
    try {
        plugin = Plugin::load(path);
    } catch (const PluginError& e) {
        j["abi_ok"] = false;
        j["error"] = e.what();
        return j;
    }
    j["name"] = plugin->name();
    j["version"] = plugin->version();
    j["abi_ok"] = true;
    j["devices"] = nlohmann::json::array();
    try {
        const int n = plugin->device_count();
        if (n == 0) {
            const char* why = plugin->table().last_error(nullptr);
            j["note"] = fmt::format("{}: {}", plugin->name(), (why && *why) ? why : "no device found");
        }
        for (int d = 0; d < n; ++d) {
            try {
                j["devices"].push_back(describe_device(plugin->device_info(d)));
            } catch (const PluginError& e) {
                j["devices"].push_back({{"error", e.what()}});
            }
        }
    } catch (const PluginError& e) {
        j["error"] = e.what();
    }
    return j;
}

nlohmann::json listing(const ListArgs& a) {
    nlohmann::json doc{{"plugins", nlohmann::json::array()},
                       {"presets", nlohmann::json::array()},
                       {"scenarios", nlohmann::json::array()}};
    std::set<std::string> seen;
    for (const auto& path : discover_plugins(a.plugins)) {
        std::error_code ec;
        const auto canon = std::filesystem::weakly_canonical(path, ec);
        if (!seen.insert((ec ? path : canon).string()).second) continue;
        doc["plugins"].push_back(describe_plugin(ec ? path : canon));
    }
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
        if (p.contains("error")) out << fmt::format("    error: {}\n", p["error"].get<std::string>());
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
    set_action(cmd, [a] {
        const auto doc = listing(*a);
        if (a->format == "json") std::cout << doc.dump(2) << "\n";
        else print_table(doc, std::cout);
        return kExitOk;
    });
}

}  // namespace rwkvb
