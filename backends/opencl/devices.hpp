// Every device of every OpenCL platform, numbered in platform order then device order:
// `opencl:N` is entry N of this list.
#pragma once
#include "cl_common.hpp"

#include <rwkvbench/backend.h>

#include <string>
#include <vector>

namespace rwkvb::ocl {

struct DeviceEntry {
    cl::Platform platform;
    cl::Device device;
};

struct DeviceList {
    std::vector<DeviceEntry> devices;
    std::string error;  // why the list is empty ("no OpenCL platform found", ...)
};

// Enumerates once per process (the ICD loader reads its vendor list once anyway).
const DeviceList& device_list();

// What the plugin knows about a device.
struct DeviceFacts {
    std::string platform, name, vendor, driver, device_version, c_version;
    cl_uint compute_units = 0;
    cl_ulong global_mem = 0, max_alloc = 0, local_mem = 0;
    size_t max_wg = 0;
    cl_uint vec_float = 0;  // preferred float vector width (PoCL: 16 with AVX-512, 8 with AVX2)
    bool fp16 = false, fp64 = false, is_cpu = false;
};
DeviceFacts device_facts(const DeviceEntry& e);

void fill_device_info(const DeviceFacts& f, rwkvb_device_info* info);

}  // namespace rwkvb::ocl
