// RWKV model configuration: the official checkpoint layout of every version (RWKV.md §2–§5),
// and detection of version and dimensions from a checkpoint's tensor names and shapes.
#pragma once
#include "safetensors.hpp"

#include <rwkvbench/backend.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace rwkvb {

using ModelConfig = rwkvb_model_config;

// What a tensor is for, as far as the cost model (RWKV.md §8) cares.
enum class TensorRole {
    Embedding,  // emb.weight: one row read per token
    Matrix,     // every matrix read whole per token (projections, LoRA, head): part of W_mm
    Vector,     // small per-channel parameters (LayerNorm, mixes, decay, bonus, ...): P_vec
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;  // stored shape, e.g. {1, 1, D} for a mix vector
    bool optional = false;       // e.g. v7 block-0 v0/v1/v2
    TensorRole role = TensorRole::Vector;
    std::string alt_name;    // accepted instead of `name` (v5.0/5.1 time_first or time_faaaa)
    bool used = true;        // false: stored but ignored by inference (v7 block-0 v0/v1/v2)
};

// Every tensor of an official checkpoint of this config, in RWKV-LM state_dict order.
std::vector<TensorSpec> expected_tensors(const ModelConfig& config);

// Detects version and every dimension, then checks every expected tensor is present with its
// shape. Throws InputError naming the file and the missing or mis-shaped tensor, or the first
// unsupported one (a state-tuned v6 file's att.time_state).
ModelConfig detect_config(const SafetensorsFile& file);
ModelConfig detect_config(std::span<const TensorView> tensors, const std::string& source_name);

// Throws InputError "<what>: <problem>" if the dimensions are inconsistent (non-positive, A ≠ H·N,
// v6/v7 LoRA ranks missing, ...). Presets and detect_config results always pass.
void validate_config(const ModelConfig& config, const std::string& what);

// "v7 L12 D768 H12×64 F3072 V65536 (Dw64 Da64 Dv32 Dg128)"
std::string describe(const ModelConfig& config);
// "4", "5.0", "5.1", "5.2", "6", "7"
std::string version_string(const ModelConfig& config);

}  // namespace rwkvb
