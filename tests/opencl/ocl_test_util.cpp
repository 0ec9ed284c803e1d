#include "ocl_test_util.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace rwkvb::ocltest {

namespace {
const std::string kFixtures = RWKVB_FIXTURES_DIR;
}

std::vector<std::string> fixture_names() {
    std::ifstream in(kFixtures + "/fixtures.json");
    if (!in) throw std::runtime_error(kFixtures + "/fixtures.json: cannot open (the golden fixtures are required)");
    const auto j = nlohmann::json::parse(in);
    std::vector<std::string> names;
    for (const auto& c : j.at("cases")) names.push_back(c.at("dir").get<std::string>());
    if (names.empty()) throw std::runtime_error("fixtures.json lists no cases");
    return names;
}

std::vector<std::string> fixture_names_for_tests() {
    try {
        return fixture_names();
    } catch (const std::exception&) {
        return {"fixtures_missing"};
    }
}

Fixture load_fixture(const std::string& name) {
    Fixture f;
    f.name = name;
    f.model = std::make_unique<SafetensorsFile>(SafetensorsFile::open(kFixtures + "/" + name + "/model.safetensors"));
    f.config = detect_config(*f.model);
    const SafetensorsFile golden = SafetensorsFile::open(kFixtures + "/" + name + "/golden.safetensors");
    const TensorView& tok = golden.at("tokens");
    const TensorView& lg = golden.at("logits");
    if (tok.dtype != DType::I32 || lg.dtype != DType::F64 || lg.shape.size() != 2)
        throw std::runtime_error(name + ": golden tokens/logits have unexpected dtypes");
    f.T = static_cast<int>(tok.numel());
    f.V = static_cast<int>(lg.shape[1]);
    if (lg.shape[0] != f.T || f.V != f.config.vocab_size) throw std::runtime_error(name + ": golden shape mismatch");
    f.tokens.resize(f.T);
    std::memcpy(f.tokens.data(), tok.data, f.T * sizeof(int32_t));  // views may be unaligned
    f.logits.resize(static_cast<size_t>(f.T) * f.V);
    std::memcpy(f.logits.data(), lg.data, f.logits.size() * sizeof(double));
    return f;
}

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

double rel_l2(const float* b, const double* g, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; ++i) {
        const double d = b[i] - g[i];
        num += d * d;
        den += g[i] * g[i];
    }
    return std::sqrt(num / den);
}

double rel_l2(const float* b, const float* g, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; ++i) {
        const double d = static_cast<double>(b[i]) - g[i];
        num += d * d;
        den += static_cast<double>(g[i]) * g[i];
    }
    return std::sqrt(num / den);
}

int argmax(const float* p, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (p[i] > p[best]) best = i;
    return best;
}

int argmax(const double* p, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (p[i] > p[best]) best = i;
    return best;
}

}  // namespace rwkvb::ocltest
