// This machine's ceilings (DESIGN.md §5): memory read bandwidth and float32 GEMM peak, measured
// once and cached per host, so every cell can state its achieved GB/s and GFLOP/s as a fraction.
//
// Document: {"memory_read_gbps": <ceiling>, "gemm_f32_gflops": <ceiling or null>, "host": ...,
// "cpu_model": ..., "threads": N, "measured_at": ..., "measured_under": {contention}, "bandwidth":
// {...}, "gemm": {...}}. measured_under is the other processes' CPU during the measurement
// (contention.hpp): ceilings measured beside a busy neighbour are low, so they are re-measured.
// The ceiling is the HIGHEST repetition, not the median: on a shared machine the best sample is
// the best evidence of what the hardware can do; medians and raw samples are kept beside it.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rwkvb {

// Multi-threaded streaming read (AVX2 loads, 4 accumulators per thread) of a `bytes` buffer,
// `reps` timed passes after one warm-up. {"method", "buffer_bytes", "threads", "samples_gbps",
// "median_gbps", "max_gbps"}.
nlohmann::json measure_read_bandwidth(size_t bytes, int threads, int reps);
// oneDNN f32 matmul n×n×n, `reps` timed runs after one warm-up; {"available": false, "note"}
// without oneDNN.
nlohmann::json measure_gemm_peak(int n, int threads, int reps);

// The read buffer measure_limits uses: max(8× the last-level cache, 1 GiB), so DRAM is what is
// measured, capped at a quarter of the available memory (never below 256 MiB).
uint64_t limits_read_buffer_bytes();

// Both, with a 1 GiB buffer (less on small machines, never below 8× L3) and 2048³ GEMM; about
// 5–10 s. threads = 0: every online CPU.
nlohmann::json measure_limits(int threads);

// cache_dir/limits/<key>.json, key from hostname, CPU model and threads (filesystem-safe).
std::filesystem::path limits_cache_path(const std::filesystem::path& cache_dir, int threads = 0);
// Why a limits document cannot be trusted (not ours, a figure missing, non-finite or absurd), or
// "" when it is plausible.
std::string limits_implausibility(const nlohmann::json& limits);

// Cached limits older than this are measured again: the host, its firmware or its neighbours change.
inline constexpr std::chrono::hours kLimitsMaxAge{24 * 7};
// Why a plausible limits document should be measured again, or "" when it is current: measured
// under contention, older than max_age (or dated in the future), or without a measured_under
// record (a cache from before it was kept) or a readable measured_at. Contention unknown (no
// /proc/stat when measured) is not a reason: measuring again would not know more.
std::string limits_staleness(const nlohmann::json& limits,
                             std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
                             std::chrono::seconds max_age = kLimitsMaxAge);

// The cached document, or a fresh measurement (then cached) when missing and measure_if_missing;
// {} when missing and not measuring. A damaged or implausible cache file counts as missing (said
// on stderr when it parsed), so no fraction is ever computed against an absurd ceiling. A stale
// one (limits_staleness) counts as missing too, said on stderr, unless use_stale and not
// measuring: then it is returned with "stale": <why> (for a run told not to measure).
nlohmann::json load_or_measure_limits(const std::filesystem::path& cache_dir, bool measure_if_missing,
                                      int threads = 0, bool use_stale = false);

}  // namespace rwkvb
