// Presets: the released RWKV shapes (RWKV.md §7) plus small test shapes, and the cost model of
// RWKV.md §8 (parameters, FLOPs and bytes per decoded token, state bytes per stream).
#pragma once
#include "dtype.hpp"
#include "model_config.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rwkvb {

struct Preset {
    std::string name;    // e.g. "rwkv7-0.1b"
    std::string family;  // e.g. "RWKV-7 Goose"
    ModelConfig config;
    std::string note;  // e.g. "LoRA ranks uncertain (RWKV.md §5.1)"
};

const std::vector<Preset>& presets();
const Preset* find_preset(std::string_view name);  // nullptr if unknown

struct ModelCost {
    uint64_t params;                 // every stored tensor, embedding included
    uint64_t matmul_weights;         // W_mm of RWKV.md §8 (head included, embedding excluded)
    uint64_t matmul_rows;            // rows of those matrices (int8 keeps one f32 scale per row)
    uint64_t vector_params;          // P_vec + D of RWKV.md §8
    uint64_t state_floats;           // recurrent state elements per stream
    double flops_per_token;          // decode, batch 1
    // b_w·(W_mm + D + P_vec); int8: 1 byte per matrix entry + 4 per row, vectors stay f32.
    double weight_bytes_per_token(DType weight_dtype) const;
    double bytes_per_token(DType weight_dtype) const;          // + 2·4·state (f32 state)
};

ModelCost model_cost(const ModelConfig& config);
// Whole checkpoint in dtype (standard tensors; int8: matrices and embedding 1 byte per entry plus
// one f32 scale per row, vectors f32).
uint64_t weight_bytes(const ModelConfig& config, DType dtype);

// Preset names closest to `name` (edit distance, then shared prefix), best first: for
// "unknown preset" messages.
std::vector<std::string> close_preset_names(std::string_view name, size_t max_count = 5);

}  // namespace rwkvb
