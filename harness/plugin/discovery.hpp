// Finding plugins and learning what they offer without trusting them (DESIGN.md §3, §6): each
// plugin is described by a short-lived `rwkvbench probe` child with a timeout, so one whose
// library constructor, device_count or device_info hangs or crashes becomes a listed
// `timeout`/`load-error` with the reason, and `list` and `run` go on. The calling process
// never loads a plugin here.
#pragma once
#include "plugin/plugin_description.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

struct DiscoveryOptions {
    // Per plugin. Generous: an honest driver may take seconds to enumerate its devices.
    double timeout_s = 30;
    // The rwkvbench binary whose `probe` describes a plugin; empty: this process's own
    // executable (which must then be rwkvbench, not a test binary).
    std::filesystem::path executable;
};

// Adds --discovery-timeout (finite seconds above zero) to a command that discovers plugins.
void add_discovery_timeout_option(CLI::App* command, DiscoveryOptions& options);

// The plugin at `path`, as described by one probe child. Whatever the plugin does there
// (hang, crash, exit, write garbage) comes back as a description with status timeout or
// load-error and a one-line error naming the plugin and the step it was in.
PluginDescription describe_plugin(const std::filesystem::path& path, const DiscoveryOptions& options);

// Every plugin file found (the --plugin paths first, then the search directories; each file
// once), each described on first need, so a command that asks for one backend by name does
// not start the others.
class PluginCatalog {
public:
    PluginCatalog(const std::vector<std::filesystem::path>& extra, DiscoveryOptions options);

    // Every plugin found, in search order.
    const std::vector<PluginDescription>& describe_all();
    // The plugin for backend `name`, or nullptr. A file named librwkvb_<name>.so is tried first
    // and taken if its table says `name` or it cannot say (it cannot be used: its cells record
    // why); only then is every plugin described and matched by its table's name.
    const PluginDescription* find(const std::string& name);

private:
    const PluginDescription& described(size_t index);

    DiscoveryOptions options_;
    std::vector<PluginDescription> plugins_;  // one per file found; path only until described
    std::vector<bool> described_;
};

}  // namespace rwkvb
