// What discovery learns about one plugin file, and the JSON that carries it from the `probe`
// child (cmd_probe.cpp) to the parent (discovery.cpp). The child ran plugin code, so the parent
// reads that JSON as untrusted bytes: every field is type- and range-checked, every string is
// made valid UTF-8 and bounded.
#pragma once
#include "run/cell.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace rwkvb {

// One device as the plugin's device_info described it (strings already valid UTF-8).
struct DeviceDescription {
    std::string error;  // non-empty: device_info failed or was invalid, and nothing below is set
    std::string name, vendor, driver_version, description;
    uint64_t memory_bytes = 0;
    int32_t compute_units = 0;
    uint32_t weight_dtypes = 0, compute_dtypes = 0;  // RWKVB_DTYPE_BIT masks
    int32_t logits_dtype = 0;                         // RWKVB_F32 or RWKVB_F64
};

struct PluginDescription {
    std::filesystem::path path;
    // kStatusOk; kStatusLoadError (refused, failed, crashed or gave garbage while described);
    // kStatusTimeout (did not finish describing itself in time).
    std::string status = kStatusOk;
    std::string error;  // one line naming the plugin and why it cannot be used; empty when ok
    bool abi_ok = false;            // its entry table was read and accepted
    std::string name, version;      // from that table; empty if it never got that far
    std::vector<DeviceDescription> devices;
    std::string no_device_reason;   // its last_error() when it has no device ("" if it said nothing)

    bool usable() const { return status == kStatusOk; }
    // "x" of librwkvb_x.so: names a plugin even when its table could not be read.
    std::string file_name() const;
};

// What a probe leaves behind, one at each step: the description so far and the step it is in.
// A child that crashed or hung leaves complete == false and the step it never finished.
struct ProbeReport {
    bool complete = false;
    std::string stage;  // "counting devices (device_count)", ...
    PluginDescription plugin;
};

// Devices are written only once complete: the snapshots before that say where the probe is,
// and writing every device at every step would grow quadratically with their number.
nlohmann::json probe_report_json(const ProbeReport& report);
// The inverse, for bytes a probe wrote; throws std::runtime_error saying what is malformed.
ProbeReport probe_report_from_json(const nlohmann::json& j);

}  // namespace rwkvb
