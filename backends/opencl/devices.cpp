#include "devices.hpp"

#include <cstdio>
#include <cstring>
#include <mutex>

namespace rwkvb::ocl {

namespace {

DeviceList enumerate() {
    DeviceList list;
    std::vector<cl::Platform> platforms;
    try {
        cl::Platform::get(&platforms);
    } catch (const cl::Error& e) {
        // ocl-icd answers CL_PLATFORM_NOT_FOUND_KHR (-1001) when no ICD is installed.
        if (e.err() == CL_PLATFORM_NOT_FOUND_KHR)
            list.error = "no OpenCL platform found (the ICD loader lists no vendor; install an "
                         "OpenCL driver such as pocl-opencl-icd)";
        else
            list.error = "cannot list OpenCL platforms: " + describe(e);
        return list;
    }
    if (platforms.empty()) {
        list.error = "no OpenCL platform found (the ICD loader lists no vendor)";
        return list;
    }
    std::string skipped;
    for (auto& p : platforms) {
        std::vector<cl::Device> devs;
        try {
            p.getDevices(CL_DEVICE_TYPE_ALL, &devs);
        } catch (const cl::Error& e) {
            if (e.err() != CL_DEVICE_NOT_FOUND) skipped += " " + describe(e) + ";";
            continue;
        }
        for (auto& d : devs) list.devices.push_back({p, d});
    }
    if (list.devices.empty())
        list.error = "OpenCL platforms exist but none has a device" +
                     (skipped.empty() ? std::string() : " (" + skipped + ")");
    return list;
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.pop_back();
    return s;
}

void copy_field(char* dst, size_t cap, const std::string& s) {
    std::snprintf(dst, cap, "%s", s.c_str());
}

}  // namespace

const DeviceList& device_list() {
    static std::once_flag once;
    static DeviceList list;
    std::call_once(once, [] {
        try {
            list = enumerate();
        } catch (const std::exception& e) {
            list.devices.clear();
            list.error = std::string("cannot enumerate OpenCL devices: ") + e.what();
        }
    });
    return list;
}

DeviceFacts device_facts(const DeviceEntry& e) {
    DeviceFacts f;
    const cl::Device& d = e.device;
    f.platform = trimmed(e.platform.getInfo<CL_PLATFORM_NAME>());
    f.name = trimmed(d.getInfo<CL_DEVICE_NAME>());
    f.vendor = trimmed(d.getInfo<CL_DEVICE_VENDOR>());
    f.driver = trimmed(d.getInfo<CL_DRIVER_VERSION>());
    f.device_version = trimmed(d.getInfo<CL_DEVICE_VERSION>());
    f.c_version = trimmed(d.getInfo<CL_DEVICE_OPENCL_C_VERSION>());
    f.compute_units = d.getInfo<CL_DEVICE_MAX_COMPUTE_UNITS>();
    f.global_mem = d.getInfo<CL_DEVICE_GLOBAL_MEM_SIZE>();
    f.max_alloc = d.getInfo<CL_DEVICE_MAX_MEM_ALLOC_SIZE>();
    f.local_mem = d.getInfo<CL_DEVICE_LOCAL_MEM_SIZE>();
    f.max_wg = d.getInfo<CL_DEVICE_MAX_WORK_GROUP_SIZE>();
    f.vec_float = d.getInfo<CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT>();
    const std::string ext = d.getInfo<CL_DEVICE_EXTENSIONS>();
    f.fp16 = ext.find("cl_khr_fp16") != std::string::npos;
    f.fp64 = ext.find("cl_khr_fp64") != std::string::npos;
    f.is_cpu = (d.getInfo<CL_DEVICE_TYPE>() & CL_DEVICE_TYPE_CPU) != 0;
    return f;
}

void fill_device_info(const DeviceFacts& f, rwkvb_device_info* info) {
    std::memset(info, 0, sizeof *info);
    copy_field(info->name, sizeof info->name, f.name);
    copy_field(info->vendor, sizeof info->vendor, f.vendor);
    copy_field(info->driver_version, sizeof info->driver_version, f.driver);
    const std::string desc = "platform: " + f.platform + "; " + f.c_version + "; " +
                             std::to_string(f.compute_units) + " CUs; " +
                             std::to_string(f.global_mem >> 20) + " MiB global; fp16 " +
                             (f.fp16 ? "yes" : "no") + "; fp64 " + (f.fp64 ? "yes" : "no");
    copy_field(info->description, sizeof info->description, desc);
    info->memory_bytes = f.global_mem;
    info->compute_units = static_cast<int32_t>(f.compute_units);
    // f16 weights on every device: the kernels only store half and widen it with vload_half*,
    // which is core OpenCL 1.2. cl_khr_fp16 (half arithmetic, reported above) is not needed,
    // and NVIDIA's driver, for one, does not have it.
    info->weight_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32) | RWKVB_DTYPE_BIT(RWKVB_F16);
    info->compute_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info->logits_dtype = RWKVB_F32;
}

}  // namespace rwkvb::ocl
