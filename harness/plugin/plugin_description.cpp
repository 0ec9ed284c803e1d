#include "plugin/plugin_description.hpp"

#include "plugin/plugin.hpp"
#include "io/utf8.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace rwkvb {
namespace {

using json = nlohmann::json;

// No honest field comes near this (device strings are at most 255 bytes, messages one line).
constexpr size_t kMaxTextBytes = 8192;

json device_json(const DeviceDescription& d) {
    if (!d.error.empty()) return json{{"error", d.error}};
    return json{{"name", d.name},
                {"vendor", d.vendor},
                {"driver_version", d.driver_version},
                {"description", d.description},
                {"memory_bytes", d.memory_bytes},
                {"compute_units", d.compute_units},
                {"weight_dtypes", d.weight_dtypes},
                {"compute_dtypes", d.compute_dtypes},
                {"logits_dtype", d.logits_dtype}};
}

[[noreturn]] void malformed(const std::string& why) { throw std::runtime_error(why); }

const json& member(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) malformed(fmt::format("'{}' is missing", key));
    return *it;
}

std::string text(const json& j, const char* key) {
    const json& v = member(j, key);
    if (!v.is_string()) malformed(fmt::format("'{}' is not a string", key));
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxTextBytes) malformed(fmt::format("'{}' is longer than {} bytes", key, kMaxTextBytes));
    return valid_utf8(s);
}

int64_t integer(const json& j, const char* key, int64_t lo, int64_t hi) {
    const json& v = member(j, key);
    if (!v.is_number_integer()) malformed(fmt::format("'{}' is not an integer", key));
    // Checked as unsigned first: values above int64's range would wrap when read as signed.
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi))
        malformed(fmt::format("'{}' is {}, above {}", key, v.get<uint64_t>(), hi));
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) malformed(fmt::format("'{}' is {}, outside [{}, {}]", key, x, lo, hi));
    return x;
}

DeviceDescription device_from_json(const json& j) {
    if (!j.is_object()) malformed("a device is not an object");
    DeviceDescription d;
    if (j.contains("error")) {
        d.error = text(j, "error");
        if (d.error.empty()) malformed("a device's 'error' is empty");
        return d;
    }
    constexpr int64_t known_dtypes = (int64_t(1) << RWKVB_DTYPE_COUNT) - 1;
    d.name = text(j, "name");
    d.vendor = text(j, "vendor");
    d.driver_version = text(j, "driver_version");
    d.description = text(j, "description");
    d.memory_bytes = static_cast<uint64_t>(integer(j, "memory_bytes", 0, static_cast<int64_t>(kMaxPluginBytes)));
    d.compute_units = static_cast<int32_t>(integer(j, "compute_units", 0, kMaxPluginComputeUnits));
    d.weight_dtypes = static_cast<uint32_t>(integer(j, "weight_dtypes", 1, known_dtypes));
    d.compute_dtypes = static_cast<uint32_t>(integer(j, "compute_dtypes", 0, known_dtypes));
    d.logits_dtype = static_cast<int32_t>(integer(j, "logits_dtype", RWKVB_F64, RWKVB_F32));
    return d;
}

}  // namespace

std::string PluginDescription::file_name() const {
    const std::string stem = valid_utf8(path.stem().string());
    return stem.starts_with("librwkvb_") ? stem.substr(9) : stem;
}

json probe_report_json(const ProbeReport& r) {
    const PluginDescription& p = r.plugin;
    json plugin{{"path", valid_utf8(p.path.string())},
                {"status", p.status},
                {"abi_ok", p.abi_ok},
                {"name", p.name},
                {"version", p.version},
                {"no_device_reason", p.no_device_reason}};
    if (!p.error.empty()) plugin["error"] = p.error;
    if (r.complete) {
        plugin["devices"] = json::array();
        for (const auto& d : p.devices) plugin["devices"].push_back(device_json(d));
    }
    return json{{"complete", r.complete}, {"stage", r.stage}, {"plugin", std::move(plugin)}};
}

ProbeReport probe_report_from_json(const json& j) {
    if (!j.is_object()) malformed("not a JSON object");
    ProbeReport r;
    const json& complete = member(j, "complete");
    if (!complete.is_boolean()) malformed("'complete' is not true or false");
    r.complete = complete.get<bool>();
    r.stage = text(j, "stage");
    const json& p = member(j, "plugin");
    if (!p.is_object()) malformed("'plugin' is not an object");
    PluginDescription& d = r.plugin;
    d.status = text(p, "status");
    if (d.status != kStatusOk && d.status != kStatusLoadError)
        malformed(fmt::format("'status' is '{}', neither {} nor {}", d.status, kStatusOk, kStatusLoadError));
    if (p.contains("error")) d.error = text(p, "error");
    if (!d.usable() && d.error.empty()) malformed("a plugin that cannot be used comes without its 'error'");
    const json& abi_ok = member(p, "abi_ok");
    if (!abi_ok.is_boolean()) malformed("'abi_ok' is not true or false");
    d.abi_ok = abi_ok.get<bool>();
    d.name = text(p, "name");
    d.version = text(p, "version");
    d.no_device_reason = text(p, "no_device_reason");
    if (r.complete) {
        if (d.usable() && (!d.abi_ok || d.name.empty())) malformed("a usable plugin without an accepted table or a name");
        const json& devices = member(p, "devices");
        if (!devices.is_array() || devices.size() > static_cast<size_t>(kMaxPluginDevices))
            malformed(fmt::format("'devices' is not an array of at most {}", kMaxPluginDevices));
        for (const auto& dev : devices) d.devices.push_back(device_from_json(dev));
    }
    return r;
}

}  // namespace rwkvb
