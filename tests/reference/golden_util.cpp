#include "golden_util.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace rwkvb::test {

std::vector<FixtureCase> fixture_cases() {
    const fs::path dir = RWKVB_FIXTURES_DIR;
    const fs::path index = dir / "fixtures.json";
    if (!fs::exists(index))
        throw std::runtime_error("golden fixtures index " + index.string() +
                                 " is missing: the reference tests need ../shared/fixtures (set RWKVB_FIXTURES_DIR)");
    std::ifstream in(index);
    const auto j = nlohmann::json::parse(in);
    std::vector<FixtureCase> out;
    for (const auto& c : j.at("cases")) {
        FixtureCase f;
        f.name = c.at("name").get<std::string>();
        f.model = dir / c.at("dir").get<std::string>() / "model.safetensors";
        f.golden = dir / c.at("dir").get<std::string>() / "golden.safetensors";
        f.T = c.at("T").get<int>();
        for (const auto& p : {f.model, f.golden})
            if (!fs::exists(p)) throw std::runtime_error("fixture file " + p.string() + " is missing");
        out.push_back(std::move(f));
    }
    if (out.empty()) throw std::runtime_error(index.string() + " lists no cases");
    return out;
}

fs::path reference_plugin_path() { return fs::path(RWKVB_PLUGIN_DIR) / "librwkvb_reference.so"; }

Golden::Golden(const fs::path& model, int threads) {
    file = std::make_unique<SafetensorsFile>(SafetensorsFile::open(model));
    cfg = detect_config(*file);
    session = std::make_unique<Session>(Plugin::load(reference_plugin_path()), 0,
                                        "threads=" + std::to_string(threads));
    session->load(cfg, file->tensors(), DType::F32);
}

std::vector<double> run_sequential(Golden& g, const std::vector<int32_t>& tokens) {
    const int V = g.V();
    std::vector<double> out(tokens.size() * V);
    rwkvb_state* st = g.session->new_state(1);
    for (size_t t = 0; t < tokens.size(); ++t)
        g.session->forward(st, &tokens[t], 1, 1, out.data() + t * V, RWKVB_LOGITS_LAST);
    g.session->free_state(st);
    return out;
}

std::vector<double> run_chunked(Golden& g, const std::vector<int32_t>& tokens, int chunk) {
    const int V = g.V(), T = static_cast<int>(tokens.size());
    if (chunk <= 0) chunk = T;
    std::vector<double> out(tokens.size() * V);
    rwkvb_state* st = g.session->new_state(1);
    for (int t0 = 0; t0 < T; t0 += chunk) {
        const int n = std::min(chunk, T - t0);
        g.session->forward(st, &tokens[t0], n, 1, out.data() + static_cast<size_t>(t0) * V, RWKVB_LOGITS_ALL);
    }
    g.session->free_state(st);
    return out;
}

double rel_l2(const double* a, const double* b, int V) {
    double num = 0, den = 0;
    for (int i = 0; i < V; ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return std::sqrt(num) / std::sqrt(den);
}

int argmax(const double* x, int V) {
    int best = 0;
    for (int i = 1; i < V; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name) {
    const TensorView& t = f.at(name);
    if (t.dtype != DType::F64) throw std::runtime_error(name + " is not F64");
    std::vector<double> v(t.nbytes / 8);
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

std::vector<int32_t> read_i32(const SafetensorsFile& f, const std::string& name) {
    const TensorView& t = f.at(name);
    if (t.dtype != DType::I32) throw std::runtime_error(name + " is not I32");
    std::vector<int32_t> v(t.nbytes / 4);
    std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

}  // namespace rwkvb::test
