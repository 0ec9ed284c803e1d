// Building the kernel program for a device, with an on-disk cache of program binaries keyed by
// platform, device, driver version, build options and a hash of the kernel source, so a second
// run skips the compiler.
#pragma once
#include "cl_common.hpp"

#include <string>

namespace rwkvb::ocl {

struct BuildResult {
    cl::Program program;
    bool from_cache = false;   // built from a cached binary
    std::string cache_file;    // the binary's path ("" with the cache off)
    double seconds = 0;        // wall time of the build
};

// The cache file name for this device and build: "<device>-<16 hex digits>.bin".
std::string cache_file_name(const cl::Device& device, const std::string& source,
                            const std::string& options);

// Throws PluginError(DEVICE) with "clBuildProgram failed: ...; first log line" and keeps the
// whole compiler log in *log on failure. cache_dir "" = no cache.
BuildResult build_program(const cl::Context& ctx, const cl::Device& device,
                          const std::string& source, const std::string& options,
                          const std::string& cache_dir, std::string* log);

}  // namespace rwkvb::ocl
