// The one device this backend offers: the host CPU, described from /proc/cpuinfo and oneDNN.
#pragma once
#include <rwkvbench/backend.h>

namespace rwkvd {

// True when the CPU has what our kernels were compiled for (AVX2, FMA, F16C).
bool cpu_supported();
void describe_cpu(rwkvb_device_info& info);

}  // namespace rwkvd
