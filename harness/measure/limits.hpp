// This machine's ceilings (DESIGN.md §5): memory read bandwidth and float32 GEMM peak, measured
// once and cached per host, so every cell can state its achieved GB/s and GFLOP/s as a fraction.
//
// Document: {"memory_read_gbps": <ceiling>, "gemm_f32_gflops": <ceiling or null>, "host": ...,
// "cpu_model": ..., "threads": N, "measured_at": ..., "bandwidth": {...}, "gemm": {...}}.
// The ceiling is the HIGHEST repetition, not the median: on a shared machine the best sample is
// the best evidence of what the hardware can do; medians and raw samples are kept beside it.
#pragma once
#include <nlohmann/json.hpp>

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
// The cached document, or a fresh measurement (then cached) when missing and measure_if_missing;
// {} when missing and not measuring. A damaged or implausible cache file counts as missing (said
// on stderr when it parsed), so no fraction is ever computed against an absurd ceiling.
nlohmann::json load_or_measure_limits(const std::filesystem::path& cache_dir, bool measure_if_missing,
                                      int threads = 0);

}  // namespace rwkvb
