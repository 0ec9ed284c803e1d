#include "ocl_test_util.hpp"

#include <cstdlib>

namespace rwkvb::ocltest {

std::shared_ptr<Plugin> opencl_plugin() {
    // PoCL reads POCL_CACHE_DIR when the platform starts: a persistent kernel cache in the build
    // tree keeps repeated test runs fast.
    setenv("POCL_CACHE_DIR", RWKVB_TEST_CACHE_DIR "/pocl", 0);
    static std::shared_ptr<Plugin> p = Plugin::load(std::string(RWKVB_PLUGIN_DIR) + "/librwkvb_opencl.so");
    return p;
}

std::string test_options(const std::string& extra) {
    std::string o = "cache_dir=" RWKVB_TEST_CACHE_DIR;
    if (!extra.empty()) o += "," + extra;
    return o;
}

}  // namespace rwkvb::ocltest
