// Test helpers: the plugin loaded with dlopen, golden fixtures opened with the workloads reader,
// and the parity metrics of DESIGN.md §6.
#pragma once
#include <rwkvbench/backend.h>

#include "safetensors.hpp"

#include <memory>
#include <string>
#include <vector>

namespace onednn_test {

// The plugin's table (dlopen once per process); nullptr + message on failure.
const rwkvb_backend* plugin(std::string* why);

struct Fixture {
    std::string name;
    std::unique_ptr<rwkvb::SafetensorsFile> model, golden;
    rwkvb_model_config config{};
    std::vector<rwkvb_tensor> tensors;  // ABI views into `model`
    std::vector<int32_t> tokens;
    std::vector<double> logits;  // golden F64 [T][V]
    int64_t T = 0, V = 0;
};

// Case names listed in fixtures.json (throws with a clear message when missing).
std::vector<std::string> fixture_names();
Fixture open_fixture(const std::string& name);

struct Metrics {
    double max_rel_l2 = 0, mean_kl = 0, top1 = 1;
    int64_t worst_step = 0, argmax_mismatch = 0;
};
// test [steps][V] f32 against golden [steps][V] f64.
Metrics compare(const float* test, const double* golden, int64_t steps, int64_t V);
// Same, test against another f32 run.
double max_rel_l2_f32(const float* a, const float* b, int64_t steps, int64_t V);

// A context with the fixture loaded at `dtype`; throws std::runtime_error with last_error.
struct Ctx {
    const rwkvb_backend* be = nullptr;
    rwkvb_context* ctx = nullptr;
    int64_t vocab = 0;
    Ctx(const Fixture& f, int32_t dtype, const char* options = nullptr);
    ~Ctx();
    void check(rwkvb_status s, const char* what) const;
    // Runs tokens [batch][n] in chunks of the given sizes (cycled), writing ALL logits.
    std::vector<float> run(const std::vector<int32_t>& tokens, int32_t batch, const std::vector<int>& chunks);
};

}  // namespace onednn_test
