// `rwkvbench probe --plugin PATH [--out FILE]`: loads exactly one plugin in this short-lived
// process and describes it (name, version, devices, or why not). Started by discovery
// (discovery.cpp) so that a plugin which hangs or crashes while loaded or asked for its devices
// costs this child, never `list` or `run`; hidden from --help.
//
// With --out, a line of report (JSON Lines) is appended before each step, naming the step it is
// about to take, so a child that dies or hangs leaves behind where it stopped; the last line is
// the finished report. Without --out, the finished report is printed (for a person).
#include "cli/commands.hpp"
#include "errors.hpp"
#include "plugin/plugin.hpp"
#include "plugin/plugin_description.hpp"
#include "io/utf8.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

namespace rwkvb {
namespace {

struct ProbeArgs {
    std::filesystem::path plugin, out;
};

// Appending, flushed at once: what reached the kernel survives a crash of this process, which
// is all that matters to the parent reading it a moment later. (Replacing a file by rename at
// each step cost ~2 ms a step on ext4, which flushes on rename; appending costs microseconds.)
class ReportLog {
public:
    explicit ReportLog(const std::filesystem::path& path) : path_(path) {
        if (!path_.empty()) out_.open(path_, std::ios::binary | std::ios::app);
    }
    void append(const ProbeReport& report) {
        if (path_.empty()) return;
        if (!(out_ << json_text(probe_report_json(report), -1) << '\n' << std::flush))
            throw InputError(fmt::format("{}: cannot write the probe report", path_.string()));
    }

private:
    std::filesystem::path path_;
    std::ofstream out_;
};

DeviceDescription describe_device(const Plugin& plugin, int device) {
    DeviceDescription d;
    try {
        const rwkvb_device_info info = plugin.device_info(device);  // strings already valid UTF-8
        d.name = info.name;
        d.vendor = info.vendor;
        d.driver_version = info.driver_version;
        d.description = info.description;
        d.memory_bytes = info.memory_bytes;
        d.compute_units = info.compute_units;
        d.weight_dtypes = info.weight_dtypes;
        d.compute_dtypes = info.compute_dtypes;
        d.logits_dtype = info.logits_dtype;
    } catch (const PluginError& e) {
        d.error = e.what();
    }
    return d;
}

int run_probe(const ProbeArgs& a) {
    ProbeReport report;
    PluginDescription& d = report.plugin;
    d.path = a.plugin;
    ReportLog log(a.out);
    const auto step = [&](std::string stage) {
        report.stage = std::move(stage);
        log.append(report);
    };
    const auto fail = [&](const PluginError& e) {
        d.status = kStatusLoadError;
        d.error = e.what();
    };

    step("loading it (dlopen, its library constructors, its entry table)");
    std::shared_ptr<Plugin> plugin;
    try {
        plugin = Plugin::load(a.plugin);
        d.abi_ok = true;
        d.name = plugin->name();
        d.version = plugin->version();
    } catch (const PluginError& e) {
        fail(e);
    }
    if (plugin) {
        step("counting devices (device_count)");
        int count = 0;
        try {
            count = plugin->device_count();
        } catch (const PluginError& e) {
            fail(e);
        }
        for (int i = 0; i < count; ++i) {
            step(fmt::format("describing device {} of {} (device_info)", i, count));
            d.devices.push_back(describe_device(*plugin, i));
        }
        if (d.usable() && count == 0) {
            step("asking why it has no device (last_error)");
            d.no_device_reason = plugin->last_error(nullptr);
        }
    }
    report.complete = true;
    report.stage = "exiting, after describing itself";  // a driver may still crash in its exit handlers
    if (a.out.empty()) std::cout << json_text(probe_report_json(report)) << "\n";
    else log.append(report);
    return 0;
}

}  // namespace

void register_probe(CLI::App& app) {
    auto* cmd = app.add_subcommand("probe", "Describe one plugin in this process (started by `list` and `run`; internal)");
    cmd->group("");  // hidden: a person runs `list`, which starts probes
    auto args = std::make_shared<ProbeArgs>();
    cmd->add_option("--plugin", args->plugin, "Plugin library (.so) to describe")->required();
    cmd->add_option("--out", args->out, "Append the report here step by step (JSON Lines) instead of printing it");
    set_action(cmd, [args] { return run_probe(*args); });
}

}  // namespace rwkvb
