#include "program.hpp"

#include <rwkvbench/backend.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

namespace rwkvb::ocl {

namespace {

uint64_t fnv1a(uint64_t h, const std::string& s) {
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h ^ 0xff;  // separator so ("ab","c") and ("a","bc") differ
}

std::string sanitize(const std::string& s) {
    std::string out;
    for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    if (out.size() > 48) out.resize(48);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Temporary file + rename, so a concurrent reader never sees half a binary.
void write_file_atomic(const std::string& path, const std::vector<unsigned char>& bytes) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out) return;
        out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            std::remove(tmp.c_str());
            return;
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) std::remove(tmp.c_str());
}

std::string first_line(const std::string& log) {
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        std::string line = log.substr(start, end - start);
        if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
        start = end + 1;
    }
    return "(empty build log)";
}

bool try_build(cl::Program& p, const cl::Device& device, const std::string& options) {
    try {
        p.build(std::vector<cl::Device>{device}, options.c_str());
        return true;
    } catch (const cl::BuildError&) {
        return false;
    } catch (const cl::Error& e) {
        if (e.err() == CL_BUILD_PROGRAM_FAILURE || e.err() == CL_INVALID_BINARY) return false;
        throw;
    }
}

}  // namespace

std::string cache_file_name(const cl::Device& device, const std::string& source,
                            const std::string& options) {
    const cl::Platform platform(device.getInfo<CL_DEVICE_PLATFORM>());
    uint64_t h = 1469598103934665603ull;
    const std::string name = device.getInfo<CL_DEVICE_NAME>();
    h = fnv1a(h, platform.getInfo<CL_PLATFORM_NAME>());
    h = fnv1a(h, platform.getInfo<CL_PLATFORM_VERSION>());
    h = fnv1a(h, name);
    h = fnv1a(h, device.getInfo<CL_DEVICE_VERSION>());
    h = fnv1a(h, device.getInfo<CL_DRIVER_VERSION>());
    h = fnv1a(h, options);
    h = fnv1a(h, source);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return sanitize(name) + "-" + hex + ".bin";
}

BuildResult build_program(const cl::Context& ctx, const cl::Device& device, const std::string& source,
                          const std::string& options, const std::string& cache_dir, std::string* log) {
    const auto t0 = std::chrono::steady_clock::now();
    BuildResult r;
    if (!cache_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(cache_dir, ec);
        r.cache_file = (std::filesystem::path(cache_dir) / cache_file_name(device, source, options)).string();
        const std::string bin = read_file(r.cache_file);
        if (!bin.empty()) {
            try {
                cl::Program::Binaries bins{std::vector<unsigned char>(bin.begin(), bin.end())};
                std::vector<cl_int> status;
                cl::Program p(ctx, std::vector<cl::Device>{device}, bins, &status);
                if (try_build(p, device, options)) {
                    r.program = p;
                    r.from_cache = true;
                }
            } catch (const cl::Error&) {
                // A stale or corrupt binary: rebuild from source and overwrite it below.
            }
        }
    }
    if (!r.from_cache) {
        cl::Program p(ctx, source);
        if (!try_build(p, device, options)) {
            std::string full;
            try {
                full = p.getBuildInfo<CL_PROGRAM_BUILD_LOG>(device);
            } catch (const cl::Error&) {
                full = "(no build log)";
            }
            if (log) *log = full;
            throw PluginError(RWKVB_ERR_DEVICE, "clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE: " +
                                                    first_line(full) + " (full log in the plugin's build log)");
        }
        r.program = p;
        if (!r.cache_file.empty()) {
            try {
                const auto bins = p.getInfo<CL_PROGRAM_BINARIES>();
                if (!bins.empty() && !bins[0].empty()) write_file_atomic(r.cache_file, bins[0]);
            } catch (const cl::Error&) {
                // No binary to cache: the next run compiles again, nothing worse.
            }
        }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace rwkvb::ocl
