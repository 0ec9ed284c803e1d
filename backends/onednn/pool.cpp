#include "pool.hpp"

#include <immintrin.h>
#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace rwkvd {

struct Pool::Impl {
    // Index field of a generation whose job is still being published: no index can be claimed.
    static constexpr uint64_t kClosed = 0xffffffffu;
    std::vector<std::thread> helpers;
    std::atomic<uint64_t> claim{0};  // generation << 32 | next index (or kClosed)
    std::atomic<const std::function<void(int64_t)>*> fn{nullptr};
    std::atomic<int64_t> n{0}, done{0};
    std::atomic<int> sleepers{0};
    std::atomic<bool> stop{false};
    std::mutex m;
    std::condition_variable cv;

    ~Impl() { resize(1); }

    void resize(int threads) {
        if (threads < 1) threads = 1;
        if (threads == int(helpers.size()) + 1) return;
        {
            std::lock_guard<std::mutex> lk(m);
            stop = true;
        }
        cv.notify_all();
        for (auto& t : helpers) t.join();
        helpers.clear();
        stop = false;
        for (int i = 1; i < threads; ++i) helpers.emplace_back([this] { helper(); });
    }

    void run(int64_t count, const std::function<void(int64_t)>& f) {
        if (helpers.empty() || count <= 1) {
            for (int64_t i = 0; i < count; ++i) f(i);
            return;
        }
        if (uint64_t(count) >= kClosed) throw std::length_error("Pool::run: too many jobs");
        // Publish the job: a new, closed generation first, then the fields, then open it. The
        // close matters: a helper may still hold the previous run's exhausted word (gen, old n);
        // had the fields changed under that word, its CAS (gen, old n) -> (gen, old n + 1)
        // would succeed against the new, larger n and run index `old n` of this job a second
        // time (batch-2 decode: stream 1's first WKV job ran twice now and then).
        const uint64_t gen = (claim.load() >> 32) + 1;
        claim.store(gen << 32 | kClosed);
        fn.store(&f);
        n.store(count);
        done.store(0);
        claim.store(gen << 32);
        if (sleepers.load() > 0) {
            { std::lock_guard<std::mutex> lk(m); }
            cv.notify_all();
        }
        work(gen);
        // Only chunks already claimed by a running helper can be outstanding.
        while (done.load(std::memory_order_acquire) < count) _mm_pause();
    }

    // Claims and runs chunks of generation `gen` until none are left.
    void work(uint64_t gen) {
        for (;;) {
            uint64_t v = claim.load(std::memory_order_acquire);
            if ((v >> 32) != gen) return;
            if ((v & 0xffffffffu) == kClosed) {  // the caller is between its two stores
                _mm_pause();
                continue;
            }
            // n is this generation's (written before the open word we read) or a later one's;
            // a later generation is closed before its fields change, so the CAS below fails.
            const int64_t count = n.load(std::memory_order_acquire);
            const int64_t i = int64_t(v & 0xffffffffu);
            if (i >= count) return;
            if (!claim.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
            // Index i of `gen` is ours and unfinished, so the caller is still inside run() and
            // fn is still this generation's.
            (*fn.load(std::memory_order_acquire))(i);
            done.fetch_add(1, std::memory_order_release);
        }
    }

    void helper() {
        uint64_t seen = claim.load() >> 32;
        for (;;) {
            // Spin a little (decode issues a few hundred small jobs per token, microseconds
            // apart), then sleep: ~0.6 ms of pauses on this host, so a helper left over from
            // decode is asleep early in a prefill's first GEMM.
            for (int spin = 0; spin < 20000; ++spin) {
                if ((claim.load(std::memory_order_relaxed) >> 32) != seen || stop) break;
                _mm_pause();
            }
            if ((claim.load() >> 32) == seen) {
                std::unique_lock<std::mutex> lk(m);
                sleepers.fetch_add(1);
                cv.wait(lk, [&] { return stop || (claim.load() >> 32) != seen; });
                sleepers.fetch_sub(1);
            }
            if (stop) return;
            seen = claim.load() >> 32;
            work(seen);
        }
    }
};

Pool::Pool(int threads) : impl_(std::make_unique<Impl>()) { impl_->resize(threads); }
Pool::~Pool() = default;
void Pool::resize(int threads) { impl_->resize(threads); }
int Pool::threads() const { return int(impl_->helpers.size()) + 1; }
void Pool::run(int64_t n, const std::function<void(int64_t)>& f) { impl_->run(n, f); }

int default_threads() {
    static const int n = omp_get_max_threads();
    return n;
}

void Parallel::set_threads(int n) {
    threads_ = n > 0 ? n : default_threads();
    if (pool_.threads() != threads_) pool_.resize(threads_);
}

void Parallel::run(int64_t n, const std::function<void(int64_t)>& f) {
    if (!openmp_ || threads_ == 1 || n <= 1) return pool_.run(n, f);
#pragma omp parallel for schedule(static) num_threads(threads_)
    for (int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace rwkvd
