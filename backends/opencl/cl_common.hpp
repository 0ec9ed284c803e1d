// The OpenCL C++ bindings as this plugin uses them: exceptions on (they never cross the ABI:
// plugin.cpp catches everything), 1.1 as the minimum API so the bindings compile with
// opencl-clhpp 2023.02 (see TOOLCHAIN.md §4); kernels themselves are OpenCL C 1.2.
#pragma once
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#ifndef CL_HPP_TARGET_OPENCL_VERSION
#define CL_HPP_TARGET_OPENCL_VERSION 300
#endif
#ifndef CL_HPP_MINIMUM_OPENCL_VERSION
#define CL_HPP_MINIMUM_OPENCL_VERSION 110
#endif
#ifndef CL_HPP_ENABLE_EXCEPTIONS
#define CL_HPP_ENABLE_EXCEPTIONS
#endif
#include <CL/opencl.hpp>

#include <stdexcept>
#include <string>

namespace rwkvb::ocl {

// "CL_OUT_OF_RESOURCES" for -5; "CL error -1234" for codes it does not know.
std::string cl_error_name(cl_int code);

// One line for a failed call: "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5)".
std::string describe(const cl::Error& e);

// An error of ours with the plugin status it maps to.
struct PluginError : std::runtime_error {
    PluginError(int status, const std::string& what) : std::runtime_error(what), status(status) {}
    int status;
};

}  // namespace rwkvb::ocl
