// Golden logits (DESIGN.md §6): the `reference` plugin's float64 logits for a checkpoint and a
// token stream, decoded one token at a time from the zero state, cached on disk so every
// backend and every later run compares against the same numbers without recomputing them.
//
// Cache key = hash of (checkpoint digest, tokens, golden backend name and version). The
// checkpoint digest hashes the whole file up to 512 MiB; above that it hashes the size and 64
// evenly spaced 1 MiB blocks, the first (safetensors header: every name, shape and offset) and
// the last included. Hashing every byte of a 15 GB checkpoint would cost longer than many
// cells; path and mtime are deliberately NOT used, so a copied or regenerated (deterministic
// synthetic) file keeps its cache entry.
#pragma once
#include "model_config.hpp"
#include "safetensors.hpp"

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace rwkvb {

struct GoldenLogits {
    std::vector<double> logits;  // steps × vocab, row t = after tokens[0..t]
    int steps = 0, vocab = 0;
    std::string key;
    std::filesystem::path path;  // cache file
    bool from_cache = false;
    std::string golden_backend, golden_version;
    double compute_s = 0;  // time spent computing (0 when read from the cache)
};

// 32 hex digits; see the file comment for what is hashed.
std::string checkpoint_digest(const std::filesystem::path& checkpoint);
std::string golden_key(const std::string& checkpoint_digest, std::span<const int32_t> tokens,
                       const std::string& golden_backend, const std::string& golden_version);

// Reads <cache_dir>/golden/<key>.safetensors, or computes it with the `reference` plugin (found
// like any plugin) and writes it atomically. A cache file that does not match (truncated, other
// tokens or shape) is recomputed and replaced.
GoldenLogits golden_logits(const std::filesystem::path& cache_dir, const SafetensorsFile& checkpoint,
                           const ModelConfig& config, std::span<const int32_t> tokens, int threads = 0);

}  // namespace rwkvb
