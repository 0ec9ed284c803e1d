// Plugin options, "key=value,key=value" (backend.h create()). Unknown keys are ignored, as the
// ABI asks; a known key with a bad value is an error.
#pragma once
#include <string>

namespace rwkvb::ocl {

struct Options {
    int wg = 0;              // work-group size of the reductions and matrix kernels; 0 = per device
    int tile_m = 0;          // gemm register tile (rows × columns of y); 0 = per device
    int tile_n = 0;
    enum class Gemv { Auto, Row, Group };
    Gemv gemv = Gemv::Auto;  // gemv=row (a work-item per weight row) | group (a work-group per row)
    int gemv_max_rows = 0;   // rows up to which the gemv kernel is used; 0 = default
    std::string cache_dir;   // program binary cache; empty = the rwkvbench cache directory
    bool no_cache = false;   // cache=0 turns the binary cache off
};

// Throws PluginError(INVALID_ARGUMENT) naming the option on a bad value.
Options parse_options(const char* text);

// $RWKVBENCH_CACHE_DIR, else $XDG_CACHE_HOME/rwkvbench, else ~/.cache/rwkvbench, else
// /tmp/rwkvbench-cache (the harness's rule), then "opencl".
std::string default_cache_dir();

}  // namespace rwkvb::ocl
