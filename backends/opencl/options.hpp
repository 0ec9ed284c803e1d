// Plugin options, "key=value,key=value" (backend.h create()). Unknown keys are ignored, as the
// ABI asks; a known key with a bad value is an error. README.md lists them.
#pragma once
#include <string>

namespace rwkvb::ocl {

struct Options {
    int wg = 0;              // work-group size of the reductions and of gemv=group; 0 = per device
    int tile_m = 0;          // gemm register tile (rows × columns of y); 0 = per device
    int tile_n = 0;
    int vec = 0;             // floats per vector load in gemv/gemm (4, 8, 16); 0 = per device
    enum class Gemv { Auto, Row, Group };
    Gemv gemv = Gemv::Auto;  // gemv=row (a work-item per 4 weight rows) | group (a work-group per row)
    int gemv_max_rows = 0;   // rows (streams × tokens) up to which gemv is used; 0 = default
    int ln_split = 0;        // work-groups per row of the LayerNorms; 0 = per device and row count
    // Program binary cache directory. The plugin has no default of its own: the harness passes
    // cache_dir=<its cache directory>/opencl; without the option nothing is cached.
    std::string cache_dir;
    bool no_cache = false;   // cache=0 turns the binary cache off
    bool profile = false;    // profile=1: per-kernel times on stderr at destroy (../common/phase_profile.hpp)
};

// Throws PluginError(INVALID_ARGUMENT) naming the option on a bad value.
Options parse_options(const char* text);

}  // namespace rwkvb::ocl
