// Helpers shared by the reference backend's tests: the fixture index, a loaded golden session,
// and runs in sequential / sequence / chunked mode.
#pragma once
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model_config.hpp"
#include "plugin.hpp"
#include "safetensors.hpp"

namespace rwkvb::test {

namespace fs = std::filesystem;

struct FixtureCase {
    std::string name;
    fs::path model, golden;
    int T = 0;
};

// Every case of fixtures.json; throws std::runtime_error with a clear message when the
// fixtures directory, the index or a case's file is missing (tests then FAIL, never skip).
std::vector<FixtureCase> fixture_cases();

fs::path reference_plugin_path();

// A golden session with a model file mapped and loaded.
struct Golden {
    explicit Golden(const fs::path& model, int threads = 2);
    std::unique_ptr<SafetensorsFile> file;
    ModelConfig cfg{};
    std::unique_ptr<Session> session;
    int V() const { return cfg.vocab_size; }
};

// Logits [T×V] from one forward per token (LOGITS_LAST).
std::vector<double> run_sequential(Golden& g, const std::vector<int32_t>& tokens);
// Logits [T×V] from forwards over chunks of `chunk` tokens (LOGITS_ALL); chunk 0 = one call.
std::vector<double> run_chunked(Golden& g, const std::vector<int32_t>& tokens, int chunk);

// ||a_t - b_t|| / ||b_t|| for row t of two [rows × V] arrays.
double rel_l2(const double* a, const double* b, int V);
int argmax(const double* x, int V);

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name);
std::vector<int32_t> read_i32(const SafetensorsFile& f, const std::string& name);

}  // namespace rwkvb::test
