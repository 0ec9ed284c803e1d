// Work-group, tile and vector sizes per device, from its type and limits, with the plugin
// options overriding; and the kernel build options they turn into. The engine and the
// benchmarks (tests/opencl/bench_opencl.cpp) both use these, so a benchmark times the kernels
// the plugin runs.
#pragma once
#include "devices.hpp"
#include "options.hpp"

#include <string>

namespace rwkvb::ocl {

struct Sizes {
    int wg = 64;             // reductions, gemv=group
    int tm = 4, tn = 2;      // gemm register tile
    int vec = 8;             // floats per vector load (gemv rows variant, gemm)
    int gemv_rows = 4;       // rows up to which products use gemv_jobs, gemm above
    bool gemv_group = false; // a work-group per weight row (GPUs) instead of 4 rows per item
    int ln_split = 0;        // work-groups per row of a LayerNorm (0: per device, see norm_split)
    int compute_units = 1;
    bool cpu = false;
    // Work-groups per row for a LayerNorm over `rows` rows of D channels: on a GPU enough groups
    // for two per compute unit, at most ceil(D / WG) of them; on a CPU one (PoCL decode ran 3%
    // slower with 4: its groups are tasks, and each repeats the row's moments).
    int norm_split(int rows, int D) const;
};

// Throws PluginError(INVALID_ARGUMENT) when an option exceeds the device's limits.
Sizes choose_sizes(const DeviceFacts& f, const Options& opt);

// "-cl-std=CL1.2 -DHEAD=.. -DWG=.. ..." for a model with this head size (v5+; 64 otherwise).
std::string build_options(const Sizes& s, int head, bool weight_f16);

}  // namespace rwkvb::ocl
