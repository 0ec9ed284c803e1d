// The common skeleton of every version (RWKV.md §1), processed layer by layer over all rows,
// and the recurrent state's layout.
#include <algorithm>

#include "pass.hpp"

namespace rwkvb_ref {

State make_state(const rwkvb_model_config& cfg, int batch) {
    State s;
    s.batch = batch;
    s.n_embd = cfg.n_embd;
    s.n_layer = cfg.n_layer;
    s.v4_dim_att = cfg.version == 4 ? cfg.dim_att : 0;
    s.wkv_size = cfg.version == 4 ? 3 * static_cast<int64_t>(cfg.dim_att)
                                  : static_cast<int64_t>(cfg.n_head) * cfg.head_size * cfg.head_size;
    s.data.assign(static_cast<size_t>(batch * s.n_layer * s.per_layer()), 0.0);
    s.reset();
    return s;
}

void State::reset() {
    std::fill(data.begin(), data.end(), 0.0);
    if (v4_dim_att > 0)  // v4: [att_x D, aa A, bb A, pp A, ffn_x D]
        for (int b = 0; b < batch; ++b)
            for (int l = 0; l < n_layer; ++l) {
                double* pp = layer(b, l) + n_embd + 2 * v4_dim_att;
                std::fill(pp, pp + v4_dim_att, kV4PpInit);
            }
}

void forward(Pass& P, const int32_t* tokens, double* logits, int which) {
    const Model& m = P.m;
    const int64_t D = m.cfg.n_embd, R = P.R();
    const size_t outer = P.scratch.mark();

    // x = LN(emb[token]; ln0): ln0 applied to the fetched row, the table is never copied
    double* x = P.scratch.take(R * D);
    double* e = P.scratch.take(D);
    for (int64_t row = 0; row < R; ++row) {
        for (int64_t i = 0; i < D; ++i) e[i] = m.emb.at(tokens[row], i);
        layer_norm(e, m.ln0_w.data(), m.ln0_b.data(), D, kLnEps, x + row * D);
    }
    if (m.cfg.version == 7) P.v_first = P.scratch.take(R * m.cfg.dim_att);

    for (int l = 0; l < m.cfg.n_layer; ++l) {
        const Layer& L = m.layers[l];
        const size_t mark = P.scratch.mark();
        double* z = P.scratch.take(R * D);
        double* y = P.scratch.take(R * D);
        for (int64_t row = 0; row < R; ++row)
            layer_norm(x + row * D, L.ln1_w.data(), L.ln1_b.data(), D, kLnEps, z + row * D);
        switch (m.cfg.version) {
            case 4: time_mix_v4(P, l, z, y); break;
            case 5: time_mix_v5(P, l, z, y); break;
            case 6: time_mix_v6(P, l, z, y); break;
            default: time_mix_v7(P, l, z, y); break;
        }
        for (int64_t i = 0; i < R * D; ++i) x[i] += y[i];
        for (int64_t row = 0; row < R; ++row)
            layer_norm(x + row * D, L.ln2_w.data(), L.ln2_b.data(), D, kLnEps, z + row * D);
        switch (m.cfg.version) {
            case 4:
            case 5: channel_mix_v4(P, l, z, y); break;
            case 6: channel_mix_v6(P, l, z, y); break;
            default: channel_mix_v7(P, l, z, y); break;
        }
        for (int64_t i = 0; i < R * D; ++i) x[i] += y[i];
        P.scratch.release(mark);
    }

    // logits = head · LN(x; ln_out) for the rows asked for, in [batch][rows] order
    if (which != RWKVB_LOGITS_NONE) {
        const int64_t rows = which == RWKVB_LOGITS_ALL ? R : P.B;
        double* zz = P.scratch.take(rows * D);
        for (int64_t j = 0; j < rows; ++j) {
            const int64_t row = which == RWKVB_LOGITS_ALL ? j : j * P.T + P.T - 1;
            layer_norm(x + row * D, m.ln_out_w.data(), m.ln_out_b.data(), D, kLnEps, zz + j * D);
        }
        linear(P.pool, m.head, zz, rows, logits);
    }
    P.scratch.release(outer);
}

}  // namespace rwkvb_ref
