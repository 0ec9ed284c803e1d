// Shared by the OpenCL tests: the fixtures (model + golden logits), the plugin, and the error
// metrics of DESIGN.md §6.
#pragma once
#include "model_config.hpp"
#include "plugin.hpp"
#include "safetensors.hpp"

#include <memory>
#include <string>
#include <vector>

namespace rwkvb::ocltest {

struct Fixture {
    std::string name;
    std::unique_ptr<SafetensorsFile> model;
    ModelConfig config{};
    std::vector<int32_t> tokens;
    std::vector<double> logits;  // [T][V], official float64
    int T = 0, V = 0;
};

// Every case listed in fixtures.json (throws if the file or a case is missing).
std::vector<std::string> fixture_names();
// The same for test registration: a missing fixtures.json yields one case "fixtures_missing",
// whose test then FAILS naming the path (a throw at registration would hide the tests instead).
std::vector<std::string> fixture_names_for_tests();
Fixture load_fixture(const std::string& name);

std::shared_ptr<Plugin> opencl_plugin();
// Options every test context uses: a binary cache inside the build tree.
std::string test_options(const std::string& extra = "");

double rel_l2(const float* b, const double* g, int n);
double rel_l2(const float* b, const float* g, int n);
int argmax(const float* p, int n);
int argmax(const double* p, int n);

}  // namespace rwkvb::ocltest
