#include "measure/sysinfo.hpp"

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <dlfcn.h>
#include <fmt/format.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef RWKVB_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace rwkvb {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string read_trimmed(const fs::path& p) {
    std::ifstream in(p);
    std::string s;
    std::getline(in, s);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

json cpu_info() {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model, vendor, flags;
    std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
    std::string phys;
    int logical = 0;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        const std::string key = trim(line.substr(0, colon)), val = trim(line.substr(colon + 1));
        if (key == "processor") ++logical;
        else if (key == "model name" && model.empty()) model = val;
        else if (key == "vendor_id" && vendor.empty()) vendor = val;
        else if (key == "flags" && flags.empty()) flags = val;
        else if (key == "physical id") phys = val;
        else if (key == "core id") cores.insert({phys, val});
    }
    // Only the flags our kernels and oneDNN care about: the ISA a number was measured with.
    std::vector<std::string> relevant;
    std::istringstream fs_(flags);
    for (std::string f; fs_ >> f;)
        if (f == "avx" || f == "avx2" || f == "fma" || f == "f16c" || f == "sse4_2" || f.starts_with("avx512") ||
            f.starts_with("amx") || f == "avx_vnni" || f == "hypervisor")
            relevant.push_back(f);
    json caches = json::array();
    for (int i = 0; i < 8; ++i) {
        const fs::path d = fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}", i);
        if (!fs::exists(d)) break;
        caches.push_back({{"level", read_trimmed(d / "level")},
                          {"type", read_trimmed(d / "type")},
                          {"size", read_trimmed(d / "size")},
                          {"shared_with_cpus", read_trimmed(d / "shared_cpu_list")}});
    }
    return {{"model", model.empty() ? json() : json(model)},
            {"vendor", vendor.empty() ? json() : json(vendor)},
            {"logical_cpus", logical ? logical : int(std::thread::hardware_concurrency())},
            {"physical_cores", cores.empty() ? json() : json(cores.size())},
            {"online_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
            {"flags", relevant},
            {"caches", caches}};
}

json memory_info() {
    std::ifstream in("/proc/meminfo");
    json j = json::object();
    for (std::string key; in >> key;) {
        uint64_t kib = 0;
        in >> kib;
        in.ignore(256, '\n');
        if (key == "MemTotal:") j["total_bytes"] = kib * 1024;
        if (key == "MemAvailable:") j["available_bytes"] = kib * 1024;
        if (key == "SwapTotal:") j["swap_bytes"] = kib * 1024;
    }
    return j;
}

json os_info() {
    utsname u{};
    json j = json::object();
    if (uname(&u) == 0)
        j = {{"kernel", fmt::format("{} {}", u.sysname, u.release)}, {"machine", u.machine}, {"hostname", u.nodename}};
    std::ifstream in("/etc/os-release");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("PRETTY_NAME=")) {
            std::string v = line.substr(12);
            if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
            j["distribution"] = v;
        }
    return j;
}

json onednn_info() {
#ifdef RWKVB_HAVE_ONEDNN
    const dnnl_version_t* v = dnnl_version();
    return {{"available", true},
            {"version", fmt::format("{}.{}.{}", v->major, v->minor, v->patch)},
            {"git_hash", v->hash ? v->hash : ""}};
#else
    return {{"available", false}, {"note", "built without oneDNN"}};
#endif
}

// OpenCL through dlopen: the few entry points we need, typed by the CL headers.
json opencl_info() {
    void* lib = dlopen("libOpenCL.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return {{"available", false}, {"note", "libOpenCL.so.1 not found (no OpenCL ICD loader installed)"}};
    auto get_platforms = reinterpret_cast<decltype(&clGetPlatformIDs)>(dlsym(lib, "clGetPlatformIDs"));
    auto platform_info = reinterpret_cast<decltype(&clGetPlatformInfo)>(dlsym(lib, "clGetPlatformInfo"));
    auto get_devices = reinterpret_cast<decltype(&clGetDeviceIDs)>(dlsym(lib, "clGetDeviceIDs"));
    auto device_info = reinterpret_cast<decltype(&clGetDeviceInfo)>(dlsym(lib, "clGetDeviceInfo"));
    // The library stays loaded: ICDs register exit handlers that crash if it is unmapped.
    if (!get_platforms || !platform_info || !get_devices || !device_info)
        return {{"available", false}, {"note", "libOpenCL.so.1 lacks the clGet* entry points"}};
    cl_uint np = 0;
    const cl_int rc = get_platforms(0, nullptr, &np);
    if (rc != CL_SUCCESS || np == 0)
        return {{"available", false}, {"note", fmt::format("no OpenCL platform (clGetPlatformIDs: {}, {} platforms)", rc, np)}};
    std::vector<cl_platform_id> plats(std::min<cl_uint>(np, 64));
    get_platforms(cl_uint(plats.size()), plats.data(), nullptr);
    auto pstr = [&](cl_platform_id p, cl_platform_info what) {
        char buf[1024] = {};
        return platform_info(p, what, sizeof buf - 1, buf, nullptr) == CL_SUCCESS ? std::string(buf) : std::string();
    };
    auto dstr = [&](cl_device_id d, cl_device_info what) {
        char buf[1024] = {};
        return device_info(d, what, sizeof buf - 1, buf, nullptr) == CL_SUCCESS ? std::string(buf) : std::string();
    };
    json platforms = json::array();
    for (cl_platform_id p : plats) {
        json devices = json::array();
        cl_uint nd = 0;
        if (get_devices(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &nd) == CL_SUCCESS && nd > 0) {
            std::vector<cl_device_id> devs(std::min<cl_uint>(nd, 64));
            get_devices(p, CL_DEVICE_TYPE_ALL, cl_uint(devs.size()), devs.data(), nullptr);
            for (cl_device_id d : devs) {
                cl_ulong mem = 0;
                cl_uint cus = 0;
                cl_device_type type = 0;
                device_info(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, nullptr);
                device_info(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cus, &cus, nullptr);
                device_info(d, CL_DEVICE_TYPE, sizeof type, &type, nullptr);
                devices.push_back({{"name", dstr(d, CL_DEVICE_NAME)},
                                   {"vendor", dstr(d, CL_DEVICE_VENDOR)},
                                   {"version", dstr(d, CL_DEVICE_VERSION)},
                                   {"driver_version", dstr(d, CL_DRIVER_VERSION)},
                                   {"type", (type & CL_DEVICE_TYPE_GPU) ? "gpu" : (type & CL_DEVICE_TYPE_CPU) ? "cpu"
                                                                                                           : "other"},
                                   {"global_memory_bytes", mem},
                                   {"compute_units", cus}});
            }
        }
        platforms.push_back({{"name", pstr(p, CL_PLATFORM_NAME)},
                             {"vendor", pstr(p, CL_PLATFORM_VENDOR)},
                             {"version", pstr(p, CL_PLATFORM_VERSION)},
                             {"devices", devices}});
    }
    return {{"available", true}, {"platforms", platforms}};
}

}  // namespace

nlohmann::json collect_system_info() {
    return {{"cpu", cpu_info()},
            {"memory", memory_info()},
            {"os", os_info()},
            {"build",
             {{"rwkvbench_version", RWKVB_VERSION},
              {"git_hash", RWKVB_GIT_HASH},
              {"compiler", RWKVB_COMPILER},
              {"build_type", RWKVB_BUILD_TYPE},
              {"cxx_flags", trim(RWKVB_CXX_FLAGS)}}},
            {"onednn", onednn_info()},
            {"opencl", opencl_info()}};
}

nlohmann::json host_load_snapshot() {
    json j;
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    j["time"] = buf;
    double load[3] = {0, 0, 0};
    std::ifstream in("/proc/loadavg");
    if (in >> load[0] >> load[1] >> load[2]) j["loadavg"] = {load[0], load[1], load[2]};
    else j["loadavg"] = nullptr;
    std::set<std::string> governors;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/devices/system/cpu", ec)) {
        const auto g = e.path() / "cpufreq" / "scaling_governor";
        if (fs::exists(g, ec)) governors.insert(read_trimmed(g));
    }
    if (governors.empty()) j["governors"] = "unavailable";
    else j["governors"] = std::vector<std::string>(governors.begin(), governors.end());
    return j;
}

}  // namespace rwkvb
