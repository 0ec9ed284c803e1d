// The decode pool (backends/onednn/pool.hpp): every index of a run is executed exactly once and
// has finished when run() returns, also when runs of different sizes follow each other back to
// back (a helper still inside the previous run must not claim an index of the next one).
#include "pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

// Runs of sizes 2 and 4 alternately, the smaller first: a helper left holding the exhausted
// claim word of a 2-job run once claimed index 2 of the following 4-job run a second time
// (stream 1's WKV job in batch-2 decode, see pool.cpp).
void check_runs(rwkvd::Pool& pool, int runs) {
    std::vector<std::atomic<int>> hits(8);
    for (int run = 0; run < runs; ++run) {
        const int64_t n = run % 2 ? 4 : 2;
        for (auto& h : hits) h.store(0, std::memory_order_relaxed);
        pool.run(n, [&](int64_t i) { hits[size_t(i)].fetch_add(1, std::memory_order_relaxed); });
        for (int64_t i = 0; i < int64_t(hits.size()); ++i)
            ASSERT_EQ(hits[size_t(i)].load(), i < n ? 1 : 0) << "run " << run << " (size " << n << "), index " << i;
    }
}

TEST(OnednnPool, EveryIndexOnceAcrossRunsOfChangingSize) {
    rwkvd::Pool pool(2);
    check_runs(pool, 200000);
}

// The same with the machine's cores kept busy, so helpers are descheduled mid-claim.
TEST(OnednnPool, EveryIndexOnceWhileTheCoresAreBusy) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> burners;
    for (int i = 0; i < 2; ++i)
        burners.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
            }
        });
    rwkvd::Pool pool(3);
    check_runs(pool, 100000);
    stop = true;
    for (auto& t : burners) t.join();
}

}  // namespace
