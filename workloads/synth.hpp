// Deterministic synthetic weights in the official layout (DESIGN.md §4): the same bytes for a
// (config, seed, dtype) on any machine and thread count, with values in the ranges of the
// official initialisation so activations and logits stay well inside float16 range.
#pragma once
#include "dtype.hpp"
#include "model_config.hpp"

#include <cstdint>
#include <filesystem>

namespace rwkvb {

// Writes the checkpoint atomically. Metadata records preset name, seed and generator version.
void write_synthetic_model(const ModelConfig& config, uint64_t seed, DType dtype,
                           const std::filesystem::path& out, const std::string& preset_name = "");

}  // namespace rwkvb
