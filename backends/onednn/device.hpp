// The one device this backend offers: the host CPU, described from /proc/cpuinfo and oneDNN.
#pragma once
#include <rwkvbench/backend.h>

namespace rwkvd {

// True when the CPU has what our kernels were compiled for (AVX2, FMA, F16C).
bool cpu_supported();
// The AVX-512 kernels (wkv7_avx512.cpp, gemv_avx512.cpp) run: the CPU has AVX-512F and the
// environment variable RWKVB_ONEDNN_NO_AVX512 is unset or 0 (it tests the AVX2 kernels on such
// hosts). Read once.
bool use_avx512();
void describe_cpu(rwkvb_device_info& info);

}  // namespace rwkvd
