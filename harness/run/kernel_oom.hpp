// Telling a kernel OOM kill from any other SIGKILL: the kernel counts its OOM kills, system-wide
// in /proc/vmstat and per memory cgroup (v2 memory.events, v1 memory.oom_control). A worker that
// died of a SIGKILL we did not send while one of these counters went up was, in all likelihood,
// killed by the OOM killer. (The system-wide counter can also move for another process's kill at
// the same moment; that coincidence is accepted.)
#pragma once
#include <cstdint>

namespace rwkvb {

// The sum of the OOM-kill counters this host exposes to us (0 where none can be read). Only its
// change over a worker's life means anything.
uint64_t kernel_oom_kill_count();

}  // namespace rwkvb
