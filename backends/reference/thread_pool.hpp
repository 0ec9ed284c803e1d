// A small persistent pool of std::threads for the golden reference's matrix products.
// parallel_for splits [0, n) into contiguous parts, one per thread; callers make sure that the
// value of every output element does not depend on which part computed it, so results are
// bit-identical for any thread count.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rwkvb_ref {

class ThreadPool {
public:
    explicit ThreadPool(int threads);  // threads >= 1, the calling thread included
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Runs body(begin, end) over [0, n). Work of fewer than `serial_below` units runs on the
    // caller alone (waking threads costs more than it saves).
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& body,
                      int64_t serial_below = 1);

private:
    void worker_loop(int index);
    void run_part(int index);

    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    uint64_t generation_ = 0;
    int pending_ = 0;
    bool stop_ = false;
    int64_t n_ = 0;
    const std::function<void(int64_t, int64_t)>* body_ = nullptr;
};

}  // namespace rwkvb_ref
