// A small persistent pool for the latency-critical decode path (matrix-vector, WKV steps).
// Why not OpenMP there: an OpenMP loop ends in a barrier that waits for every team thread, so on
// a shared machine one descheduled thread costs a whole time slice per call (measured 20× slower
// decode under load, TOOLCHAIN §6). Here the caller claims work itself and never waits for a
// helper that has not claimed any, so late helpers cost nothing. GEMMs stay on oneDNN/OpenMP.
#pragma once
#include <cstdint>
#include <functional>

namespace rwkvd {

// Runs f(i) for every i in [0, n) on the calling thread and the pool's helpers.
void parallel_for(int64_t n, const std::function<void(int64_t)>& f);
// Total threads including the caller (≥ 1); 0 = the OpenMP default. Idle helpers sleep.
void set_pool_threads(int n);
int pool_threads();

}  // namespace rwkvd
