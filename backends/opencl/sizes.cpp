#include "sizes.hpp"

#include "cl_common.hpp"

#include <rwkvbench/backend.h>

#include <algorithm>

namespace rwkvb::ocl {

namespace {

int floor_pow2(size_t x) {
    int p = 1;
    while (static_cast<size_t>(p) * 2 <= x) p *= 2;
    return p;
}

}  // namespace

Sizes choose_sizes(const DeviceFacts& f, const Options& opt) {
    Sizes s;
    // Reductions use up to 64 items (a wavefront/warp multiple on GPUs, one vector loop on
    // CPUs), never more than the device allows.
    s.wg = opt.wg ? opt.wg : std::min(64, floor_pow2(f.max_wg));
    if (static_cast<size_t>(s.wg) > f.max_wg)
        throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "option wg=" + std::to_string(s.wg) +
                                                          ": device allows at most " + std::to_string(f.max_wg));
    // Vector loads as wide as the device prefers: PoCL reports 16 floats with AVX-512 and 8 with
    // AVX2; GPUs report 1 and get 4.
    s.vec = opt.vec ? opt.vec : f.vec_float >= 16 ? 16 : f.vec_float >= 8 ? 8 : 4;
    // gemm register tile: TM·TN accumulators plus TM + 1 loaded vectors stay in registers.
    // 16-float vectors mean AVX-512 and its 32 registers: 4×4 (21 live); 8-float vectors, AVX2's
    // 16: 4×2 (13 live). GPUs have registers for 4×4 float4 accumulators.
    const bool wide = s.vec >= 16 || !f.is_cpu;
    s.tm = opt.tile_m ? opt.tile_m : 4;
    s.tn = opt.tile_n ? opt.tile_n : wide ? 4 : 2;
    s.gemv_rows = opt.gemv_max_rows ? opt.gemv_max_rows : 4;
    // CPUs stream whole weight rows per work-item; GPUs need neighbouring items on neighbouring
    // weights: a work-group per row.
    s.gemv_group = opt.gemv == Options::Gemv::Auto ? !f.is_cpu : opt.gemv == Options::Gemv::Group;
    s.ln_split = opt.ln_split;
    s.compute_units = static_cast<int>(std::max<cl_uint>(1, f.compute_units));
    s.cpu = f.is_cpu;
    return s;
}

int Sizes::norm_split(int rows, int D) const {
    const int most = std::max(1, (D + wg - 1) / wg);
    if (ln_split) return std::min(ln_split, most);
    if (cpu) return 1;
    return std::clamp(2 * compute_units / std::max(rows, 1), 1, most);
}

std::string build_options(const Sizes& s, int head, bool weight_f16) {
    std::string o = "-cl-std=CL1.2 -DHEAD=" + std::to_string(head) + " -DWG=" + std::to_string(s.wg) +
                    " -DTM=" + std::to_string(s.tm) + " -DTN=" + std::to_string(s.tn) +
                    " -DVEC=" + std::to_string(s.vec);
    if (s.gemv_group) o += " -DGEMV_GROUP";
    if (weight_f16) o += " -DWEIGHT_F16";
    return o;
}

}  // namespace rwkvb::ocl
