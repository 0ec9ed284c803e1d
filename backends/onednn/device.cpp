#include "device.hpp"

#include <dnnl.hpp>
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace rwkvd {
namespace {

std::string cpuinfo_field(const char* key) {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind(key, 0) != 0) continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
    }
    return {};
}

const char* isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void put(char* dst, size_t cap, const std::string& s) {
    std::snprintf(dst, cap, "%s", s.c_str());
}

}  // namespace

bool cpu_supported() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

bool use_avx512() {
    static const bool on = [] {
        const char* off = std::getenv("RWKVB_ONEDNN_NO_AVX512");
        return __builtin_cpu_supports("avx512f") && !(off && *off && *off != '0');
    }();
    return on;
}

void describe_cpu(rwkvb_device_info& info) {
    std::memset(&info, 0, sizeof info);
    std::string name = cpuinfo_field("model name");
    put(info.name, sizeof info.name, name.empty() ? "CPU" : name);
    std::string vendor = cpuinfo_field("vendor_id");
    if (vendor == "AuthenticAMD") vendor = "AMD";
    else if (vendor == "GenuineIntel") vendor = "Intel";
    put(info.vendor, sizeof info.vendor, vendor.empty() ? "unknown" : vendor);
    const dnnl_version_t* v = dnnl_version();
    const char* isa = isa_name(dnnl::get_effective_cpu_isa());
    put(info.driver_version, sizeof info.driver_version,
        "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
            " (" + isa + ")");
    put(info.description, sizeof info.description,
        std::string("host CPU; f32 GEMM: oneDNN ") + isa + " (OpenMP); decode matrix-vector, f16/bf16/int8: "
        "own AVX2+FMA+F16C kernels");
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    info.memory_bytes = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
    info.compute_units = omp_get_max_threads();
    info.weight_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32) | RWKVB_DTYPE_BIT(RWKVB_F16) | RWKVB_DTYPE_BIT(RWKVB_BF16) |
                         RWKVB_DTYPE_BIT(RWKVB_I8);
    info.compute_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info.logits_dtype = RWKVB_F32;
}

}  // namespace rwkvd
