// Threads of one context. Two teams exist and only one is awake at a time:
//  - few-row calls (decode, M ≤ 8): a small claim-based pool. Why not OpenMP there: an OpenMP
//    loop ends in a barrier that waits for every team thread, so on a shared machine one
//    descheduled thread costs a whole time slice per call (measured 20× slower decode under load,
//    TOOLCHAIN §6). In the pool the caller claims work itself and never waits for a helper that
//    has not claimed any, so late helpers cost nothing.
//  - many-row calls (prefill): OpenMP, the runtime oneDNN's GEMMs use. Running the WKV scan and
//    the elementwise passes there too keeps the pool's helpers asleep, so 2 vCPUs never carry
//    three busy threads (the pool's spinning helper used to compete with OpenMP's GEMM threads).
// Every context owns its own Parallel (two contexts on two threads share nothing).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace rwkvd {

class Pool {
public:
    explicit Pool(int threads = 1);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    // Total threads including the caller (≥ 1). Idle helpers spin briefly, then sleep.
    void resize(int threads);
    int threads() const;
    // Runs f(i) for every i in [0, n) on the calling thread and the helpers.
    void run(int64_t n, const std::function<void(int64_t)>& f);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class Parallel {
public:
    Parallel() { set_threads(0); }
    // Threads for both teams (≥ 1); 0 = the process default (OMP_NUM_THREADS, else the CPUs).
    void set_threads(int n);
    int threads() const { return threads_; }
    // Selects the team for the following run() calls: OpenMP (true) or the pool (false).
    void use_openmp(bool on) { openmp_ = on; }
    bool openmp() const { return openmp_; }
    // f(i) for every i in [0, n), on the selected team.
    void run(int64_t n, const std::function<void(int64_t)>& f);

private:
    Pool pool_;
    int threads_ = 1;
    bool openmp_ = false;
};

// The process default thread count, read once before any context changes OpenMP's setting.
int default_threads();

}  // namespace rwkvd
