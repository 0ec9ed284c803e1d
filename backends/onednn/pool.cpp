#include "pool.hpp"

#include <immintrin.h>
#include <omp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace rwkvd {
namespace {

class Pool {
public:
    ~Pool() { resize(1); }

    void resize(int threads) {
        if (threads < 1) threads = 1;
        if (threads == int(helpers_.size()) + 1) return;
        {
            std::lock_guard<std::mutex> lk(m_);
            stop_ = true;
        }
        cv_.notify_all();
        for (auto& t : helpers_) t.join();
        helpers_.clear();
        stop_ = false;
        for (int i = 1; i < threads; ++i) helpers_.emplace_back([this] { helper(); });
    }
    int threads() const { return int(helpers_.size()) + 1; }

    void run(int64_t n, const std::function<void(int64_t)>& f) {
        if (helpers_.empty() || n <= 1) {
            for (int64_t i = 0; i < n; ++i) f(i);
            return;
        }
        // Publish the job: fields first, then the claim counter (generation << 32 | next index).
        const uint64_t gen = (claim_.load() >> 32) + 1;
        fn_.store(&f);
        n_.store(n);
        done_.store(0);
        claim_.store(gen << 32);
        if (sleepers_.load() > 0) {
            { std::lock_guard<std::mutex> lk(m_); }
            cv_.notify_all();
        }
        work(gen);
        // Only chunks already claimed by a running helper can be outstanding.
        while (done_.load(std::memory_order_acquire) < n) _mm_pause();
    }

private:
    // Claims and runs chunks of generation `gen` until none are left.
    void work(uint64_t gen) {
        for (;;) {
            uint64_t v = claim_.load(std::memory_order_acquire);
            if ((v >> 32) != gen) return;
            const auto* f = fn_.load(std::memory_order_acquire);
            const int64_t n = n_.load(std::memory_order_acquire);
            const int64_t i = int64_t(v & 0xffffffffu);
            if (i >= n) return;
            // A successful claim proves f and n belong to `gen`: the next job's fields are only
            // written after every chunk of this one has been claimed and finished.
            if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
            (*f)(i);
            done_.fetch_add(1, std::memory_order_release);
        }
    }

    void helper() {
        uint64_t seen = claim_.load() >> 32;
        for (;;) {
            // Spin a little (decode issues hundreds of small jobs per token), then sleep.
            for (int spin = 0; spin < 20000; ++spin) {
                if ((claim_.load(std::memory_order_relaxed) >> 32) != seen || stop_) break;
                _mm_pause();
            }
            if ((claim_.load() >> 32) == seen) {
                std::unique_lock<std::mutex> lk(m_);
                sleepers_.fetch_add(1);
                cv_.wait(lk, [&] { return stop_ || (claim_.load() >> 32) != seen; });
                sleepers_.fetch_sub(1);
            }
            if (stop_) return;
            seen = claim_.load() >> 32;
            work(seen);
        }
    }

    std::vector<std::thread> helpers_;
    std::atomic<uint64_t> claim_{0};
    std::atomic<const std::function<void(int64_t)>*> fn_{nullptr};
    std::atomic<int64_t> n_{0}, done_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex m_;
    std::condition_variable cv_;
};

Pool& pool() {
    static Pool p;
    static bool init = [] {
        p.resize(omp_get_max_threads());
        return true;
    }();
    (void)init;
    return p;
}

}  // namespace

void parallel_for(int64_t n, const std::function<void(int64_t)>& f) { pool().run(n, f); }
void set_pool_threads(int n) { pool().resize(n > 0 ? n : omp_get_max_threads()); }
int pool_threads() { return pool().threads(); }

}  // namespace rwkvd
