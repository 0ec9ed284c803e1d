// Deterministic synthetic weights in the official layout (DESIGN.md §4): the same bytes for a
// (config, seed, dtype) on any machine and thread count, with values in the ranges of the
// official initialisation so activations and logits stay well inside float16 range.
#pragma once
#include "dtype.hpp"
#include "model_config.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace rwkvb {

// Generator identity written to the file's metadata; bump it whenever any value changes.
inline constexpr const char* kSynthGenerator = "rwkvbench-synth/1";

// Writes the checkpoint atomically. Metadata records preset name, seed and generator version.
// `threads` splits large tensors across threads (0: $RWKVB_SYNTH_THREADS, else every core);
// the bytes never depend on it.
void write_synthetic_model(const ModelConfig& config, uint64_t seed, DType dtype,
                           const std::filesystem::path& out, const std::string& preset_name = "",
                           unsigned threads = 0);

// Fills one tensor of `config` (a spec from expected_tensors) with its synthetic values in
// `dtype` (F64, F32, F16 or BF16); `out` must hold exactly numel × dtype_size bytes. Element i
// depends only on (seed, tensor name, i), so any split of the work gives the same bytes.
void fill_synthetic_tensor(const ModelConfig& config, uint64_t seed, const TensorSpec& spec,
                           DType dtype, std::span<std::byte> out, unsigned threads = 0);

}  // namespace rwkvb
