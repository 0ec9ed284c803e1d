#include "fixtures.hpp"

#include "tokens.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <fstream>
#include <stdexcept>

namespace rwkvb::test {
namespace {

std::vector<FixtureCase> read_index() {
    const fs::path index = fixtures_dir() / "fixtures.json";
    std::ifstream in(index);
    if (!in)
        throw std::runtime_error("golden fixtures index " + index.string() +
                                 " is missing: clone ../shared beside the repository (or set RWKVB_FIXTURES_DIR)");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(index.string() + ": not valid JSON: " + e.what());
    }
    std::vector<FixtureCase> out;
    try {
        for (const auto& c : j.at("cases")) {
            FixtureCase f;
            f.name = c.at("name").get<std::string>();
            f.dir = fixtures_dir() / c.at("dir").get<std::string>();
            f.model = f.dir / "model.safetensors";
            f.golden = f.dir / "golden.safetensors";
            f.version = c.at("rwkv_version").get<std::string>();
            f.n_layer = c.at("n_layer").get<int>();
            f.n_embd = c.at("n_embd").get<int>();
            f.vocab_size = c.at("vocab_size").get<int>();
            f.T = c.at("T").get<int>();
            f.entry = c;
            for (const fs::path& p : {f.model, f.golden})
                if (!fs::exists(p)) throw std::runtime_error("fixture file " + p.string() + " is missing");
            out.push_back(std::move(f));
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(index.string() + ": unexpected layout: " + e.what());
    }
    if (out.empty()) throw std::runtime_error(index.string() + " lists no cases");
    return out;
}

}  // namespace

fs::path fixtures_dir() { return RWKVB_FIXTURES_DIR; }

const std::vector<FixtureCase>& fixture_cases() {
    static const std::vector<FixtureCase> cases = read_index();  // a throw is retried next call
    return cases;
}

const FixtureCase& fixture_case(const std::string& name) {
    for (const FixtureCase& c : fixture_cases())
        if (c.name == name) return c;
    throw std::runtime_error("fixture case '" + name + "' is not in " + (fixtures_dir() / "fixtures.json").string());
}

std::vector<std::string> fixture_names_for_registration() {
    try {
        std::vector<std::string> names;
        for (const FixtureCase& c : fixture_cases()) names.push_back(c.name);
        return names;
    } catch (const std::exception&) {
        return {"fixtures_missing"};
    }
}

std::string test_name(std::string n) {
    std::replace_if(n.begin(), n.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    return n;
}

GoldenCase load_case(const std::string& name) {
    GoldenCase g;
    g.info = fixture_case(name);
    g.model = std::make_unique<SafetensorsFile>(SafetensorsFile::open(g.info.model));
    g.config = detect_config(*g.model);
    g.V = g.config.vocab_size;
    g.tokens = read_tokens(g.info.golden, g.V);
    g.T = static_cast<int>(g.tokens.size());
    g.logits = read_f64(SafetensorsFile::open(g.info.golden), "logits");
    if (g.T != g.info.T || g.logits.size() != size_t(g.T) * size_t(g.V))
        throw std::runtime_error(g.info.golden.string() + ": " + std::to_string(g.T) + " tokens and " +
                                 std::to_string(g.logits.size()) + " logits for V=" + std::to_string(g.V) +
                                 " (fixtures.json says T=" + std::to_string(g.info.T) + ")");
    return g;
}

std::vector<double> read_f64(const SafetensorsFile& f, const std::string& name) {
    const TensorView& t = f.at(name);
    if (t.dtype != DType::F64)
        throw std::runtime_error(f.path().string() + ": tensor '" + name + "' is " +
                                 std::string(dtype_name(t.dtype)) + ", expected F64");
    std::vector<double> v(t.nbytes / sizeof(double));
    std::memcpy(v.data(), t.data, v.size() * sizeof(double));
    return v;
}

std::vector<rwkvb_tensor> abi_tensors(const std::vector<TensorView>& tensors) {
    std::vector<rwkvb_tensor> out;
    for (const TensorView& v : tensors) {
        rwkvb_tensor a{};
        if (v.shape.size() > std::size(a.shape)) throw std::runtime_error("tensor " + v.name + " has over 4 dimensions");
        a.name = v.name.c_str();
        a.dtype = static_cast<int32_t>(v.dtype);
        a.ndim = static_cast<int32_t>(v.shape.size());
        std::copy(v.shape.begin(), v.shape.end(), a.shape);
        a.data = v.data;
        a.nbytes = v.nbytes;
        out.push_back(a);
    }
    return out;
}

}  // namespace rwkvb::test
