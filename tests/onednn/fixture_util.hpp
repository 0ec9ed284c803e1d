// Helpers of the oneDNN tests: the plugin's table, a golden case with ABI views of its tensors,
// and a context that runs token streams in chunks. Fixtures and metrics come from tests/common.
#pragma once
#include <rwkvbench/backend.h>

#include "fixtures.hpp"
#include "metrics.hpp"

#include <string>
#include <vector>

namespace onednn_test {

using rwkvb::test::compare_to_golden;
using rwkvb::test::max_rel_l2;
using rwkvb::test::StreamMetrics;

// The plugin's table, loaded once per process through the harness's loader (throws with the
// reason when it cannot be loaded).
const rwkvb_backend& plugin();

// A golden case and the ABI views (backend.h) of its checkpoint's tensors.
struct Fixture : rwkvb::test::GoldenCase {
    std::vector<rwkvb_tensor> tensors;  // views into `model`
};
Fixture open_fixture(const std::string& name);

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
