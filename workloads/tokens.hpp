// Token streams: deterministic from a seed, or read from a safetensors file's I32 `tokens`.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace rwkvb {

// Uniform ids in [0, vocab) from a counter-based generator: the same stream everywhere.
std::vector<int32_t> synthetic_tokens(uint64_t seed, size_t count, int32_t vocab_size);
// Stream `stream` of a batch drawn from one seed: streams are independent of each other and of
// every other seed's streams (stream b of seed s is not stream 0 of seed s + b). Stream 0 is
// synthetic_tokens(seed, count, vocab_size).
std::vector<int32_t> synthetic_tokens(uint64_t seed, uint64_t stream, size_t count, int32_t vocab_size);
// The 1-D I32 tensor `tokens` of a safetensors file; every id checked against vocab_size.
std::vector<int32_t> read_tokens(const std::filesystem::path& path, int32_t vocab_size);

}  // namespace rwkvb
