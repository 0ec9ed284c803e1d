// The golden fixtures (../shared/fixtures, made by the official RWKV code): the index
// fixtures.json and each case's checkpoint, tokens and official float64 logits. Every reader of
// the fixtures goes through here. A missing index or file throws std::runtime_error naming the
// path, so the test using it FAILS (never skips).
#pragma once
#include "model_config.hpp"
#include "safetensors.hpp"

#include <rwkvbench/backend.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace rwkvb::test {

namespace fs = std::filesystem;

fs::path fixtures_dir();

// One entry of fixtures.json.
struct FixtureCase {
    std::string name;         // "rwkv7-tiny"
    fs::path dir;             // <fixtures>/<dir>
    fs::path model, golden;   // <dir>/model.safetensors, <dir>/golden.safetensors
    std::string version;      // rwkv_version: "4" .. "7"
    int n_layer = 0, n_embd = 0, vocab_size = 0;
    int T = 0;                // tokens (and logits rows) in golden.safetensors
    nlohmann::json entry;     // the whole index entry, for the rarer keys (lora_dims, n_params, ...)
};

// Every case, in index order; throws when the index, a case's files or every case is missing.
const std::vector<FixtureCase>& fixture_cases();
const FixtureCase& fixture_case(const std::string& name);  // throws for an unknown name

// Case names for INSTANTIATE_TEST_SUITE_P, which runs before any test: when the index is
// missing this is {"fixtures_missing"}, a case whose test then fails in load_case with the
// reason (throwing here would abort the binary and hide every test instead).
std::vector<std::string> fixture_names_for_registration();
// GoogleTest parameter name of a case: "rwkv7-tiny" -> "rwkv7_tiny".
std::string test_name(std::string case_name);

// A case opened: the mapped checkpoint with its detected config, and the golden tokens and
// float64 logits (copied: tensor data in a mapping need not be aligned).
struct GoldenCase {
    FixtureCase info;
    std::unique_ptr<SafetensorsFile> model;
    ModelConfig config{};
    std::vector<int32_t> tokens;  // [T]
    std::vector<double> logits;   // [T][V], official float64
    int T = 0, V = 0;

    const std::string& name() const { return info.name; }
    std::span<const double> step(int t) const { return {logits.data() + size_t(t) * size_t(V), size_t(V)}; }
};
GoldenCase load_case(const std::string& name);

// The F64 tensor `name` of a safetensors file (e.g. "logits" of a golden or `logits` output).
std::vector<double> read_f64(const SafetensorsFile& file, const std::string& name);

// ABI views (backend.h) of a file's tensors, for tests that call a plugin's table directly.
// The views point into `tensors`, which must outlive them.
std::vector<rwkvb_tensor> abi_tensors(const std::vector<TensorView>& tensors);

}  // namespace rwkvb::test
