#include "fixture_util.hpp"

#include <dlfcn.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace onednn_test {

const rwkvb_backend* plugin(std::string* why) {
    static const rwkvb_backend* table = nullptr;
    static std::string error;
    static bool tried = false;
    if (!tried) {
        tried = true;
        const std::string path = std::string(RWKVB_PLUGIN_DIR) + "/librwkvb_onednn.so";
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            error = std::string("dlopen ") + path + ": " + dlerror();
        } else if (auto entry = reinterpret_cast<rwkvb_backend_entry_fn>(dlsym(h, RWKVB_ENTRY_SYMBOL))) {
            table = entry(RWKVB_ABI_VERSION);
            if (!table) error = "entry returned NULL for our ABI version";
        } else {
            error = path + ": no symbol " RWKVB_ENTRY_SYMBOL;
        }
    }
    if (why) *why = error;
    return table;
}

std::vector<std::string> fixture_names() {
    const std::string path = std::string(RWKVB_FIXTURES_DIR) + "/fixtures.json";
    std::ifstream f(path);
    if (!f) throw std::runtime_error(path + ": cannot open the golden fixtures index (clone ../shared beside the repo)");
    auto j = nlohmann::json::parse(f);
    std::vector<std::string> names;
    for (const auto& c : j.at("cases")) names.push_back(c.at("dir").get<std::string>());
    if (names.empty()) throw std::runtime_error(path + ": no cases");
    return names;
}

namespace {

const rwkvb::TensorView& at(const rwkvb::SafetensorsFile& f, const std::string& n) { return f.at(n); }
int64_t dim(const rwkvb::SafetensorsFile& f, const std::string& n, size_t i) { return at(f, n).shape.at(i); }

// Version and dimensions from tensor names and shapes (RWKV.md §0, §3.1).
rwkvb_model_config detect(const rwkvb::SafetensorsFile& f) {
    rwkvb_model_config c{};
    auto has = [&](const std::string& n) { return f.find(n) != nullptr; };
    while (has("blocks." + std::to_string(c.n_layer) + ".ln1.weight")) ++c.n_layer;
    c.vocab_size = int32_t(dim(f, "emb.weight", 0));
    c.n_embd = int32_t(dim(f, "emb.weight", 1));
    c.dim_att = int32_t(dim(f, "blocks.0.att.key.weight", 0));
    c.dim_ffn = int32_t(dim(f, "blocks.0.ffn.key.weight", 0));
    const std::string a = "blocks.0.att.";
    if (has(a + "r_k")) {
        c.version = 7;
        c.n_head = int32_t(dim(f, a + "r_k", 0));
        c.head_size = int32_t(dim(f, a + "r_k", 1));
        c.lora_decay = int32_t(dim(f, a + "w1", 1));
        c.lora_iclr = int32_t(dim(f, a + "a1", 1));
        c.lora_value = int32_t(dim(f, "blocks.1.att.v1", 1));
        c.lora_gate = int32_t(dim(f, a + "g1", 1));
    } else if (has(a + "time_maa_x")) {
        c.version = 6;
        c.n_head = int32_t(dim(f, a + "time_faaaa", 0));
        c.head_size = int32_t(dim(f, a + "time_faaaa", 1));
        c.lora_maa = int32_t(dim(f, a + "time_maa_w1", 1) / 5);
        c.lora_decay = int32_t(dim(f, a + "time_decay_w1", 1));
    } else if (has(a + "ln_x.weight")) {
        c.version = 5;
        const auto& d = at(f, a + "time_decay");
        c.subversion = !has(a + "gate.weight") ? 0 : (d.shape.size() == 2 && d.shape[1] > 1) ? 2 : 1;
        c.n_head = int32_t(d.shape[0]);
        c.head_size = c.dim_att / c.n_head;
    } else {
        c.version = 4;
    }
    return c;
}

}  // namespace

Fixture open_fixture(const std::string& name) {
    Fixture fx;
    fx.name = name;
    const std::string dir = std::string(RWKVB_FIXTURES_DIR) + "/" + name;
    fx.model = std::make_unique<rwkvb::SafetensorsFile>(rwkvb::SafetensorsFile::open(dir + "/model.safetensors"));
    fx.golden = std::make_unique<rwkvb::SafetensorsFile>(rwkvb::SafetensorsFile::open(dir + "/golden.safetensors"));
    fx.config = detect(*fx.model);
    for (const auto& t : fx.model->tensors()) {
        rwkvb_tensor a{};
        a.name = t.name.c_str();
        a.dtype = int32_t(t.dtype);
        a.ndim = int32_t(t.shape.size());
        for (size_t i = 0; i < t.shape.size() && i < 4; ++i) a.shape[i] = t.shape[i];
        a.data = t.data;
        a.nbytes = t.nbytes;
        fx.tensors.push_back(a);
    }
    const auto& tok = fx.golden->at("tokens");
    const auto& lg = fx.golden->at("logits");
    fx.T = tok.numel();
    fx.V = lg.shape.at(1);
    fx.tokens.resize(size_t(fx.T));
    std::memcpy(fx.tokens.data(), tok.data, size_t(fx.T) * 4);
    fx.logits.resize(size_t(fx.T * fx.V));
    std::memcpy(fx.logits.data(), lg.data, fx.logits.size() * 8);
    return fx;
}

Metrics compare(const float* test, const double* golden, int64_t steps, int64_t V) {
    Metrics m;
    int64_t counted = 0, agree = 0;
    double kl_sum = 0;
    for (int64_t t = 0; t < steps; ++t) {
        const float* b = test + t * V;
        const double* g = golden + t * V;
        double num = 0, den = 0, mean = 0;
        for (int64_t i = 0; i < V; ++i) {
            num += (b[i] - g[i]) * (b[i] - g[i]);
            den += g[i] * g[i];
            mean += g[i];
        }
        const double rel = std::sqrt(num / den);
        if (rel > m.max_rel_l2) m.max_rel_l2 = rel, m.worst_step = t;
        // KL(softmax g || softmax b)
        const double gmax = *std::max_element(g, g + V);
        const double bmax = *std::max_element(b, b + V);
        double zg = 0, zb = 0;
        for (int64_t i = 0; i < V; ++i) zg += std::exp(g[i] - gmax), zb += std::exp(double(b[i]) - bmax);
        double kl = 0;
        for (int64_t i = 0; i < V; ++i) {
            const double lp = g[i] - gmax - std::log(zg), lq = double(b[i]) - bmax - std::log(zb);
            kl += std::exp(lp) * (lp - lq);
        }
        kl_sum += kl;
        // Top-1 only where the golden's top two differ by > 1e-3 × std (DESIGN.md §6).
        mean /= double(V);
        double var = 0;
        for (int64_t i = 0; i < V; ++i) var += (g[i] - mean) * (g[i] - mean);
        const double sd = std::sqrt(var / double(V));
        int64_t g1 = std::max_element(g, g + V) - g;
        double second = -1e300;
        for (int64_t i = 0; i < V; ++i)
            if (i != g1) second = std::max(second, g[i]);
        const int64_t b1 = std::max_element(b, b + V) - b;
        if (b1 != g1) ++m.argmax_mismatch;
        if (g[g1] - second > 1e-3 * sd) {
            ++counted;
            agree += b1 == g1;
        }
    }
    m.mean_kl = kl_sum / double(steps);
    m.top1 = counted ? double(agree) / double(counted) : 1.0;
    return m;
}

double max_rel_l2_f32(const float* a, const float* b, int64_t steps, int64_t V) {
    double worst = 0;
    for (int64_t t = 0; t < steps; ++t) {
        double num = 0, den = 0;
        for (int64_t i = 0; i < V; ++i) {
            const double d = double(a[t * V + i]) - double(b[t * V + i]);
            num += d * d;
            den += double(b[t * V + i]) * double(b[t * V + i]);
        }
        worst = std::max(worst, std::sqrt(num / den));
    }
    return worst;
}

Ctx::Ctx(const Fixture& f, int32_t dtype, const char* options) {
    std::string why;
    be = plugin(&why);
    if (!be) throw std::runtime_error("onednn plugin: " + why);
    check(be->create(0, options, &ctx), "create");
    check(be->load(ctx, &f.config, f.tensors.data(), f.tensors.size(), dtype), "load");
    vocab = f.config.vocab_size;
}

Ctx::~Ctx() {
    if (be) be->destroy(ctx);
}

void Ctx::check(rwkvb_status s, const char* what) const {
    if (s != RWKVB_OK)
        throw std::runtime_error(std::string(what) + " failed (" + std::to_string(int(s)) + "): " + be->last_error(ctx));
}

std::vector<float> Ctx::run(const std::vector<int32_t>& tokens, int32_t batch, const std::vector<int>& chunks) {
    const int64_t T = int64_t(tokens.size()) / batch;
    rwkvb_state* st = nullptr;
    check(be->state_new(ctx, batch, &st), "state_new");
    std::vector<float> out;
    std::vector<int32_t> piece;
    std::vector<float> buf;
    int64_t pos = 0;
    size_t ci = 0;
    std::vector<std::vector<float>> per_stream(static_cast<size_t>(batch));
    while (pos < T) {
        const int64_t n = std::min<int64_t>(chunks[ci++ % chunks.size()], T - pos);
        piece.clear();
        for (int32_t b = 0; b < batch; ++b)
            for (int64_t t = 0; t < n; ++t) piece.push_back(tokens[size_t(b * T + pos + t)]);
        buf.assign(size_t(batch * n) * size_t(vocab), 0.f);
        rwkvb_status s = be->forward(ctx, st, piece.data(), int32_t(n), batch, buf.data(), RWKVB_LOGITS_ALL);
        if (s != RWKVB_OK) {
            be->state_free(ctx, st);
            check(s, "forward");
        }
        for (int32_t b = 0; b < batch; ++b)
            per_stream[size_t(b)].insert(per_stream[size_t(b)].end(), buf.begin() + b * n * vocab,
                                         buf.begin() + (b + 1) * n * vocab);
        pos += n;
    }
    be->state_free(ctx, st);
    for (auto& p : per_stream) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace onednn_test
