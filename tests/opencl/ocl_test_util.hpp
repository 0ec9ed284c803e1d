// Shared by the OpenCL tests: the plugin and the options every test context uses. Fixtures,
// metrics and child processes come from tests/common.
#pragma once
#include "fixtures.hpp"
#include "metrics.hpp"
#include "plugin/plugin.hpp"

#include <memory>
#include <string>

namespace rwkvb::ocltest {

using test::GoldenCase;
using test::load_case;
using test::rel_l2;
using test::argmax;

std::shared_ptr<Plugin> opencl_plugin();
// Options every test context uses: a binary cache inside the build tree.
std::string test_options(const std::string& extra = "");

}  // namespace rwkvb::ocltest
