#include "fixture_util.hpp"

#include "plugin/plugin.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace onednn_test {

const rwkvb_backend& plugin() {
    // Two OpenMP threads (ctest -j2 on a two-core CI host) unless OMP_NUM_THREADS says otherwise.
    // The runtime read its environment when it was loaded (with libdnnl, which the harness core
    // links), so set the default of this thread, the one that calls the plugin, directly.
    if (!std::getenv("OMP_NUM_THREADS")) omp_set_num_threads(2);
    static const std::shared_ptr<rwkvb::Plugin> p =
        rwkvb::Plugin::load(std::string(RWKVB_PLUGIN_DIR) + "/librwkvb_onednn.so");
    return p->table();
}

Fixture open_fixture(const std::string& name) {
    Fixture fx{rwkvb::test::load_case(name), {}};
    fx.tensors = rwkvb::test::abi_tensors(fx.model->tensors());
    return fx;
}

Ctx::Ctx(const Fixture& f, int32_t dtype, const char* options) {
    be = &plugin();
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
