#include "plugin/discovery.hpp"

#include "io/atomic_file.hpp"
#include "errors.hpp"
#include "plugin/plugin.hpp"  // discover_plugins(): file names only, nothing is loaded
#include "io/utf8.hpp"
#include "run/worker_process.hpp"

#include <fmt/format.h>
#include <stdlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

namespace rwkvb {
namespace {

constexpr double kMaxDiscoveryTimeoutS = 86400;
constexpr uintmax_t kMaxReportBytes = 16u << 20;  // 4096 devices of ~1 KiB each, with room to spare
constexpr size_t kMaxOutputLineBytes = 200;

// A private directory for one probe's report, removed with what is in it. Absolute, so a
// plugin that chdir()s still writes where the parent reads.
class ScratchDir {
public:
    ScratchDir() {
        std::error_code ec;
        std::filesystem::path base = std::filesystem::temp_directory_path(ec);
        if (ec) base = "/tmp";
        base = std::filesystem::absolute(base, ec);
        std::string name = (base / "rwkvbench-probe-XXXXXX").string();
        if (!::mkdtemp(name.data()))
            throw InputError(fmt::format("{}: cannot create a scratch directory for plugin discovery ({}); set "
                                         "TMPDIR to a writable directory",
                                         valid_utf8(base.string()), std::strerror(errno)));
        path_ = name;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

std::filesystem::path probe_executable(const DiscoveryOptions& options) {
    if (!options.executable.empty()) return options.executable;
    auto self = self_executable();
    // A test binary that plans a run would otherwise start itself (every test) per plugin.
    if (!self.filename().string().starts_with("rwkvbench"))
        throw std::logic_error(fmt::format("plugin discovery starts `rwkvbench probe`, but this process is {}: set "
                                           "DiscoveryOptions::executable",
                                           self.string()));
    return self;
}

// The probe's last report: the last line of its file that is JSON (one killed in the middle
// of a line leaves that line torn). std::runtime_error saying why there is none to use.
ProbeReport read_report(const std::filesystem::path& file) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec || size == 0) throw std::runtime_error("it left no report");
    if (size > kMaxReportBytes) throw std::runtime_error(fmt::format("its report is {} bytes, no honest one is", size));
    const std::string text = read_file(file);
    size_t end = text.size();
    while (end > 0) {
        const size_t newline = text.rfind('\n', end - 1);
        const size_t begin = newline == std::string::npos ? 0 : newline + 1;
        const auto j = nlohmann::json::parse(text.begin() + std::ptrdiff_t(begin), text.begin() + std::ptrdiff_t(end),
                                             nullptr, /*allow_exceptions=*/false);
        if (!j.is_discarded()) return probe_report_from_json(j);
        end = begin == 0 ? 0 : begin - 1;
    }
    throw std::runtime_error("its report is not valid JSON");
}

// The last non-empty line the probe printed (often the plugin's own complaint), bounded.
std::string last_output_line(const std::string& output) {
    const size_t end = output.find_last_not_of(" \r\n\t");
    if (end == std::string::npos) return "";
    const size_t newline = output.rfind('\n', end);
    const size_t begin = newline == std::string::npos ? 0 : newline + 1;
    return utf8_tail(std::string_view(output).substr(begin, end + 1 - begin), kMaxOutputLineBytes);
}

// The reason given for a probe that did not end cleanly with a whole report: "crashed(SIGSEGV)
// while counting devices (device_count)", "timeout after 30 s while ...", an exit code.
std::string unfinished_reason(const ProcessOutcome& o, const WorkerLimits& limits, const std::string& stage,
                              const std::string& unreadable) {
    const std::string during = stage.empty() ? "" : " while " + stage;
    if (o.timed_out) return fmt::format("timeout after {:g} s{}", limits.timeout_s, during);
    if (o.memory_killed)
        return fmt::format("held more than {:.1f} GiB of memory{}", double(limits.memory_limit_bytes) / (1ull << 30),
                           during);
    if (o.signal) return fmt::format("crashed({}){}", signal_abbrev(o.signal), during);
    if (o.exit_code != 0 || unreadable.empty()) {
        const std::string said = last_output_line(o.output_tail);
        return fmt::format("exited with code {}{}{}", o.exit_code, during, said.empty() ? "" : ": " + said);
    }
    return fmt::format("its discovery child finished, but {}", unreadable);
}

}  // namespace

void add_discovery_timeout_option(CLI::App* command, DiscoveryOptions& options) {
    const auto seconds = [](std::string& text) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
            v = std::stod(text, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != text.size() || !std::isfinite(v) || v <= 0 || v > kMaxDiscoveryTimeoutS)
            return fmt::format("'{}' is not a number of seconds above 0 and at most {:g}", text, kMaxDiscoveryTimeoutS);
        return "";
    };
    command
        ->add_option("--discovery-timeout", options.timeout_s,
                     "Seconds each plugin may take to load and describe its devices (in a child process) before it "
                     "is given up as a timeout")
        ->capture_default_str()
        ->check(CLI::Validator(seconds, "SECONDS"));
}

PluginDescription describe_plugin(const std::filesystem::path& path, const DiscoveryOptions& options) {
    const ScratchDir scratch;
    const auto report_file = scratch.path() / "report.jsonl";
    WorkerLimits limits;
    limits.timeout_s = options.timeout_s;
    limits.memory_limit_bytes = default_memory_limit();
    const ProcessOutcome o = run_process(probe_executable(options),
                                         {"probe", "--plugin", path.string(), "--out", report_file.string()}, limits);
    ProbeReport report;
    std::string unreadable;
    try {
        report = read_report(report_file);
    } catch (const std::exception& e) {
        unreadable = valid_utf8(e.what());
        report = ProbeReport{};
    }
    PluginDescription d = std::move(report.plugin);
    d.path = path;
    const bool exited_cleanly = !o.timed_out && !o.memory_killed && o.signal == 0 && o.exit_code == 0;
    if (exited_cleanly && unreadable.empty() && report.complete) return d;

    // What it said before it stopped (its name) stands; it has no usable device.
    d.devices.clear();
    d.no_device_reason.clear();
    d.status = o.timed_out ? kStatusTimeout : kStatusLoadError;
    const std::string who = d.name.empty() ? valid_utf8(path.string()) : d.name;
    d.error = fmt::format("{}: {}", who, unfinished_reason(o, limits, unreadable.empty() ? report.stage : "", unreadable));
    return d;
}

PluginCatalog::PluginCatalog(const std::vector<std::filesystem::path>& extra, DiscoveryOptions options)
    : options_(std::move(options)) {
    std::set<std::string> seen;
    for (const auto& path : discover_plugins(extra)) {
        std::error_code ec;
        const auto canonical = std::filesystem::weakly_canonical(path, ec);
        PluginDescription d;
        d.path = ec ? path : canonical;
        if (seen.insert(d.path.string()).second) plugins_.push_back(std::move(d));
    }
    described_.assign(plugins_.size(), false);
}

const PluginDescription& PluginCatalog::described(size_t index) {
    if (!described_[index]) {
        plugins_[index] = describe_plugin(plugins_[index].path, options_);
        described_[index] = true;
    }
    return plugins_[index];
}

const std::vector<PluginDescription>& PluginCatalog::describe_all() {
    for (size_t i = 0; i < plugins_.size(); ++i) described(i);
    return plugins_;
}

const PluginDescription* PluginCatalog::find(const std::string& name) {
    for (size_t i = 0; i < plugins_.size(); ++i)
        if (plugins_[i].file_name() == name) {
            const auto& d = described(i);
            if (d.name == name || d.name.empty()) return &d;
        }
    for (size_t i = 0; i < plugins_.size(); ++i)
        if (described(i).name == name) return &plugins_[i];
    return nullptr;
}

}  // namespace rwkvb
