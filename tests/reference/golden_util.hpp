// Helpers of the reference backend's tests: a loaded golden session, and runs in sequential /
// sequence / chunked mode. Fixtures, metrics and the CLI come from tests/common.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "metrics.hpp"
#include "model_config.hpp"
#include "plugin/plugin.hpp"
#include "safetensors.hpp"

namespace rwkvb::test {

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

}  // namespace rwkvb::test
