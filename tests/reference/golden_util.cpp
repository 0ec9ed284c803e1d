#include "golden_util.hpp"

#include <algorithm>

namespace rwkvb::test {

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

}  // namespace rwkvb::test
