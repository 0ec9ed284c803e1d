// The forward pass: embedding rows, the blocks of each version, the head. Rows are m = b·T + t.
#include "dtype.hpp"
#include "engine.hpp"

#include <algorithm>
#include <cstring>

namespace rwkvb::ocl {

namespace {

constexpr int ACT_NONE = 0, ACT_RELU2 = 1, ACT_SIGMOID = 2, ACT_SILU = 3, ACT_TANH = 4;
constexpr float LN_EPS = 1e-5f, GN_EPS = 64e-5f;
constexpr int MAX_CHUNK_ROWS = 512;  // rows (streams × tokens) per pass through the layers
constexpr size_t MAX_JOBS = 8;       // job slots of gemv_jobs (matmul.cl)

[[noreturn]] void fail(int status, const std::string& what) { throw PluginError(status, what); }

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

std::string shape(const Matrix& w) {
    std::string s = std::to_string(w.rows);
    s += 'x';
    return s += std::to_string(w.cols);
}

}  // namespace

void Engine::forward(DeviceState* s, const int32_t* tokens, int n_tokens, int batch, float* logits, int which) {
    if (!loaded_) fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: no model loaded");
    if (!s) fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: state is NULL");
    if (batch != s->batch)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: batch " + std::to_string(batch) + " but the state holds " +
                                             std::to_string(s->batch) + " streams");
    if (n_tokens <= 0) fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: n_tokens must be positive");
    if (!tokens) fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: tokens is NULL");
    if (which != RWKVB_LOGITS_LAST && which != RWKVB_LOGITS_ALL && which != RWKVB_LOGITS_NONE)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: unknown logits selector " + std::to_string(which));
    if (which != RWKVB_LOGITS_NONE && !logits) fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: logits is NULL");
    for (size_t i = 0; i < static_cast<size_t>(batch) * n_tokens; ++i)
        if (tokens[i] < 0 || tokens[i] >= cfg_.vocab_size)
            fail(RWKVB_ERR_INVALID_ARGUMENT, "forward: token " + std::to_string(tokens[i]) + " at position " +
                                                 std::to_string(i) + " is outside the vocabulary [0, " +
                                                 std::to_string(cfg_.vocab_size) + ")");
    // Long sequences go through the layers in chunks of at most MAX_CHUNK_ROWS rows, carrying the
    // state: the workspace stays bounded and the result is the same recurrence.
    const int chunk = std::max(1, std::min(n_tokens, MAX_CHUNK_ROWS / batch));
    std::vector<int32_t> part;
    for (int t0 = 0; t0 < n_tokens; t0 += chunk) {
        const int tc = std::min(chunk, n_tokens - t0);
        part.resize(static_cast<size_t>(batch) * tc);
        for (int b = 0; b < batch; ++b)
            std::memcpy(&part[static_cast<size_t>(b) * tc], tokens + static_cast<size_t>(b) * n_tokens + t0,
                        tc * sizeof(int32_t));
        const bool last = t0 + tc == n_tokens;
        const bool want = which == RWKVB_LOGITS_ALL || (which == RWKVB_LOGITS_LAST && last);
        forward_chunk(s, part.data(), tc, batch, want, which, logits, t0, n_tokens);
    }
}

void Engine::forward_chunk(DeviceState* s, const int32_t* tokens, int T, int B, bool want_logits, int which,
                           float* logits, int t0, int T_total) {
    const int M = T * B, D = cfg_.n_embd, V = cfg_.vocab_size;
    ensure_workspace(M);
    // Embedding rows are gathered on the host (the table stays in host memory; only M rows move),
    // then ln0 runs on the device.
    const size_t eb = dtype_bytes(emb_dtype_);
    for (int m = 0; m < M; ++m) {
        const size_t row = static_cast<size_t>(tokens[m]) * D;
        float* dst = &host_rows_[static_cast<size_t>(m) * D];
        if (emb_dtype_ == RWKVB_F32)
            std::memcpy(dst, static_cast<const unsigned char*>(emb_) + row * eb, D * sizeof(float));
        else
            for (int d = 0; d < D; ++d) dst[d] = static_cast<float>(element(emb_dtype_, emb_, row + d));
    }
    cl::Buffer& x = ws_["x"];
    queue_.enqueueWriteBuffer(x, CL_TRUE, 0, static_cast<size_t>(M) * D * 4, host_rows_.data());
    layernorm(x, 1, 0, x, ln0_w_, ln0_b_, M);

    for (int l = 0; l < cfg_.n_layer; ++l) {
        time_mix(l, s, T, B);
        channel_mix(l, s, T, B);
    }
    if (!want_logits) return;

    const bool all = which == RWKVB_LOGITS_ALL;
    const int rows = all ? M : B;
    cl::Buffer& hn = ws_["hn"];
    layernorm(x, all ? 1 : T, all ? 0 : T - 1, hn, lnout_w_, lnout_b_, rows);
    ensure_logits(rows);
    matmuls({{&hn, 0, D, &head_, &logits_buf_, 0, V, ACT_NONE, false}}, rows);
    if (all) {  // [b][t] rows of this chunk into [b][T_total] of the output
        for (int b = 0; b < B; ++b)
            queue_.enqueueReadBuffer(logits_buf_, CL_FALSE, static_cast<size_t>(b) * T * V * 4,
                                     static_cast<size_t>(T) * V * 4,
                                     logits + (static_cast<size_t>(b) * T_total + t0) * V);
        queue_.finish();
    } else {
        queue_.enqueueReadBuffer(logits_buf_, CL_TRUE, 0, static_cast<size_t>(B) * V * 4, logits);
    }
}

// Few rows: the jobs go out together, MAX_JOBS per gemv_jobs launch. Many rows: a gemm each.
void Engine::matmuls(std::initializer_list<Job> jobs, int M) {
    const std::vector<Job> list(jobs);
    if (M > sz_.gemv_rows) {
        const size_t lx = std::min<size_t>(16, facts_.max_wg), ly = std::max<size_t>(1, std::min<size_t>(4, facts_.max_wg / lx));
        for (const Job& j : list) {
            const size_t gx = (j.w->rows + sz_.tn - 1) / sz_.tn, gy = (M + sz_.tm - 1) / sz_.tm;
            launch(k_.gemm, cl::NDRange(round_up(gx, lx), round_up(gy, ly)), cl::NDRange(lx, ly), *j.x,
                   static_cast<cl_int>(j.x_off), static_cast<cl_int>(j.ldx), j.w->buf, *j.y,
                   static_cast<cl_int>(j.y_off), static_cast<cl_int>(j.ldy), static_cast<cl_int>(M),
                   static_cast<cl_int>(j.w->rows), static_cast<cl_int>(j.w->cols), static_cast<cl_int>(j.act),
                   static_cast<cl_int>(j.accumulate ? 1 : 0));
        }
        return;
    }
    // A unit is 4 weight rows (a work-item) or one row (a work-group): see matmul.cl.
    const int per_unit = sz_.gemv_group ? 1 : 4;
    for (size_t first = 0; first < list.size(); first += MAX_JOBS) {
        const size_t n = std::min(MAX_JOBS, list.size() - first);
        cl_int end = 0;
        std::string label;
        for (size_t slot = 0; slot < MAX_JOBS; ++slot) {
            const Job& j = list[first + std::min(slot, n - 1)];  // unused slots repeat the last job
            if (slot < n) {
                end += (j.w->rows + per_unit - 1) / per_unit;
                if (profile_) {
                    label += slot ? '+' : ' ';
                    label += shape(*j.w);
                }
            }
            const cl_int8 d = {{j.w->rows, j.w->cols, j.x_off, j.ldx, j.y_off, j.ldy,
                                j.act + (j.accumulate ? 8 : 0), end}};
            const cl_uint a = 2 + 4 * static_cast<cl_uint>(slot);
            k_.gemv.setArg(a, *j.x);
            k_.gemv.setArg(a + 1, j.w->buf);
            k_.gemv.setArg(a + 2, *j.y);
            k_.gemv.setArg(a + 3, d);
        }
        k_.gemv.setArg(0, static_cast<cl_int>(M));
        k_.gemv.setArg(1, end);
        if (sz_.gemv_group) {
            enqueue(k_.gemv, cl::NDRange(static_cast<size_t>(end) * sz_.wg), cl::NDRange(sz_.wg), label);
        } else {
            // Small groups spread small launches over the compute units.
            const size_t local = std::min<size_t>(16, facts_.max_wg);
            enqueue(k_.gemv, cl::NDRange(round_up(end, local)), cl::NDRange(local), label);
        }
    }
}

void Engine::layernorm(const cl::Buffer& x, int in_stride, int in_off, const cl::Buffer& y, const cl::Buffer& g,
                       const cl::Buffer& b, int rows) {
    // In place (ln0 on the embedding rows) a row's groups would overwrite what the others still
    // read for the moments: one group per row then.
    const int split = x() == y() ? 1 : sz_.norm_split(rows, cfg_.n_embd);
    launch(k_.layernorm, cl::NDRange(static_cast<size_t>(rows) * split * sz_.wg), cl::NDRange(sz_.wg), x,
           static_cast<cl_int>(in_stride), static_cast<cl_int>(in_off), y, g, b, static_cast<cl_int>(cfg_.n_embd),
           LN_EPS, static_cast<cl_int>(split));
}

void Engine::ln_mix(int l, DeviceState* s, bool att, int T, int B, int n_mix, bool keep_z) {
    Layer& L = layers_[l];
    auto& w = ws_;
    const int D = cfg_.n_embd, M = T * B;
    const std::string ln = att ? "ln1." : "ln2.";
    cl::Buffer& state = att ? s->att[l] : s->ffn[l];
    // v6's time mix first mixes with μ_x alone (1 output), the rest of its mixes come later.
    const cl::Buffer& mu = att ? (cfg_.version == 6 ? L.v["mu_x"] : L.v["mu_att"]) : L.v["mu_ffn"];
    cl::Buffer& state_out = T == 1 ? state : w["zlast"];
    cl::Buffer& z = keep_z ? w["z"] : w["m0"];  // not written unless keep_z
    cl::Buffer& dz = keep_z ? w["dz"] : w["m0"];
    const int split = sz_.norm_split(M, D);
    launch(k_.ln_mix, cl::NDRange(static_cast<size_t>(M) * split * sz_.wg), cl::NDRange(sz_.wg), w["x"], L.v[ln + "weight"],
           L.v[ln + "bias"], LN_EPS, state, state_out, static_cast<cl_int>(T), static_cast<cl_int>(D), mu,
           static_cast<cl_int>(n_mix), w["m0"], w["m1"], w["m2"], w["m3"], w["m4"], w["m5"],
           static_cast<cl_int>(keep_z ? 1 : 0), z, dz, static_cast<cl_int>(split));
    if (T > 1) queue_.enqueueCopyBuffer(state_out, state, 0, 0, static_cast<size_t>(B) * D * 4);
}

void Engine::time_mix(int l, DeviceState* s, int T, int B) {
    Layer& L = layers_[l];
    const int M = T * B, D = cfg_.n_embd, A = cfg_.dim_att, H = cfg_.n_head, N = cfg_.head_size;
    auto& w = ws_;
    const cl_int iA = A, iT = T, iH = H, iM = M, iD = D;
    const cl::NDRange rowsD(round_up(D, sz_.wg), M), rowsA(round_up(A, sz_.wg), M), local(sz_.wg, 1);
    const cl::NDRange heads(static_cast<size_t>(H) * N, static_cast<size_t>(B)), headLocal(N, 1);
    const cl::NDRange headRows(static_cast<size_t>(H) * sz_.wg, static_cast<size_t>(M)), gnLocal(sz_.wg, 1);
    auto& m = L.m;

    if (cfg_.version == 4) {  // mixes k, v, r
        ln_mix(l, s, true, T, B, 3, false);
        matmuls({{&w["m0"], 0, D, &m["att.key.weight"], &w["k"], 0, A, ACT_NONE, false},
                 {&w["m1"], 0, D, &m["att.value.weight"], &w["v"], 0, A, ACT_NONE, false},
                 {&w["m2"], 0, D, &m["att.receptance.weight"], &w["r"], 0, A, ACT_SIGMOID, false}},
                M);
        launch(k_.wkv4, cl::NDRange(round_up(A, sz_.wg), B), local, w["r"], w["k"], w["v"], L.v["decay"], L.v["first"],
               s->wkv[l], w["y"], iT, iA);
        matmuls({{&w["y"], 0, A, &m["att.output.weight"], &w["x"], 0, D, ACT_NONE, true}}, M);
    } else if (cfg_.version == 5 || cfg_.version == 6) {
        const bool v6 = cfg_.version == 6, gate = v6 || v5_gate_;
        // Inputs of k, v, r, g: v5 in m0..m3 (mixes), v6 in planes 1..4 of mm.
        auto in = [&](int slot) -> std::pair<cl::Buffer*, int> {
            if (v6) return {&w["mm"], to_cl_int(static_cast<uint64_t>(slot) * M * D, "time_mix")};
            static const char* const mixes[] = {"", "m0", "m1", "m2", "m3"};
            return {&w[mixes[slot]], 0};
        };
        if (!v6) {
            ln_mix(l, s, true, T, B, v5_gate_ ? 4 : 3, false);
        } else {
            const int Dm = cfg_.lora_maa, Dd = cfg_.lora_decay;
            ln_mix(l, s, true, T, B, 1, true);
            matmuls({{&w["m0"], 0, D, &m["att.time_maa_w1"], &w["lora"], 0, 5 * Dm, ACT_TANH, false}}, M);
            matmuls({{&w["lora"], 0, 5 * Dm, &m["maa_w2.0"], &w["mm"], in(0).second, D, ACT_NONE, false},
                     {&w["lora"], Dm, 5 * Dm, &m["maa_w2.1"], &w["mm"], in(1).second, D, ACT_NONE, false},
                     {&w["lora"], 2 * Dm, 5 * Dm, &m["maa_w2.2"], &w["mm"], in(2).second, D, ACT_NONE, false},
                     {&w["lora"], 3 * Dm, 5 * Dm, &m["maa_w2.3"], &w["mm"], in(3).second, D, ACT_NONE, false},
                     {&w["lora"], 4 * Dm, 5 * Dm, &m["maa_w2.4"], &w["mm"], in(4).second, D, ACT_NONE, false}},
                    M);
            launch(k_.v6_mix, rowsD, local, w["z"], w["dz"], L.v["mu_att"], w["mm"], iM, iD);
            // planes of mm: w, k, v, r, g
            matmuls({{&w["mm"], 0, D, &m["att.time_decay_w1"], &w["lora"], 0, Dd, ACT_TANH, false}}, M);
            matmuls({{&w["lora"], 0, Dd, &m["att.time_decay_w2"], &w["w"], 0, A, ACT_NONE, false}}, M);
            launch(k_.v6_decay, rowsA, local, w["w"], L.v["att.time_decay"], iA);
        }
        const auto [xk, ok] = in(1);
        const auto [xv, ov] = in(2);
        const auto [xr, orr] = in(3);
        const auto [xg, og] = in(4);
        const Job k{xk, ok, D, &m["att.key.weight"], &w["k"], 0, A, ACT_NONE, false};
        const Job v{xv, ov, D, &m["att.value.weight"], &w["v"], 0, A, ACT_NONE, false};
        const Job r{xr, orr, D, &m["att.receptance.weight"], &w["r"], 0, A, ACT_NONE, false};
        if (gate)
            matmuls({k, v, r, {xg, og, D, &m["att.gate.weight"], &w["g"], 0, A, ACT_SILU, false}}, M);
        else
            matmuls({k, v, r}, M);
        const cl::Buffer& decay = v6 ? w["w"] : L.v["decay"];
        const cl::Buffer& bonus = v6 ? L.v["att.time_faaaa"] : L.v["first"];
        launch(k_.wkv5, heads, headLocal, w["r"], w["k"], w["v"], decay, cl_int(v6 ? A : 0), bonus, s->wkv[l], w["y"],
               iT, iH);
        launch(k_.groupnorm_gate, headRows, gnLocal, w["y"], w["g"], cl_int(gate ? 1 : 0), L.v["att.ln_x.weight"],
               L.v["att.ln_x.bias"], w["o"], cl_int(N), iA, GN_EPS);
        matmuls({{&w["o"], 0, A, &m["att.output.weight"], &w["x"], 0, D, ACT_NONE, true}}, M);
    } else {  // v7; mixes r, w, k, v, a, g → m0..m5
        ln_mix(l, s, true, T, B, 6, false);
        // The LoRA intermediates side by side in `lora`: w | a | g | v.
        const int Dw = cfg_.lora_decay, Da = cfg_.lora_iclr, Dv = cfg_.lora_value, Dg = cfg_.lora_gate;
        const int lw = Dw + Da + Dg + Dv, oa = Dw, og = Dw + Da, ov = Dw + Da + Dg;
        const Job r{&w["m0"], 0, D, &m["att.receptance.weight"], &w["r"], 0, A, ACT_NONE, false};
        const Job k{&w["m2"], 0, D, &m["att.key.weight"], &w["k"], 0, A, ACT_NONE, false};
        const Job v{&w["m3"], 0, D, &m["att.value.weight"], &w["v"], 0, A, ACT_NONE, false};
        const Job w1{&w["m1"], 0, D, &m["att.w1"], &w["lora"], 0, lw, ACT_TANH, false};
        const Job a1{&w["m4"], 0, D, &m["att.a1"], &w["lora"], oa, lw, ACT_NONE, false};
        const Job g1{&w["m5"], 0, D, &m["att.g1"], &w["lora"], og, lw, ACT_SIGMOID, false};
        const Job w2{&w["lora"], 0, lw, &m["att.w2"], &w["w"], 0, D, ACT_NONE, false};
        const Job a2{&w["lora"], oa, lw, &m["att.a2"], &w["a"], 0, D, ACT_NONE, false};
        const Job g2{&w["lora"], og, lw, &m["att.g2"], &w["g"], 0, D, ACT_NONE, false};
        const bool layer0 = l == 0;  // block 0 has no value residual
        if (layer0) {
            matmuls({r, k, v, w1, a1, g1}, M);
            matmuls({w2, a2, g2}, M);
        } else {
            matmuls({r, k, v, w1, a1, g1, {&w["m3"], 0, D, &m["att.v1"], &w["lora"], ov, lw, ACT_NONE, false}}, M);
            matmuls({w2, a2, g2, {&w["lora"], ov, lw, &m["att.v2"], &w["vg"], 0, D, ACT_NONE, false}}, M);
        }
        const cl::Buffer& v0 = layer0 ? L.v["att.w0"] : L.v["att.v0"];  // v0 and vg unused in layer 0
        launch(k_.wkv7, heads, headLocal, w["r"], w["k"], w["v"], w["w"], w["a"], w["vg"], w["g"], w["vfirst"],
               cl_int(layer0 ? 1 : 0), L.v["att.w0"], L.v["att.a0"], v0, L.v["att.k_k"], L.v["att.k_a"],
               L.v["att.r_k"], L.v["att.ln_x.weight"], L.v["att.ln_x.bias"], GN_EPS, s->wkv[l], w["o"], iT, iH);
        matmuls({{&w["o"], 0, A, &m["att.output.weight"], &w["x"], 0, D, ACT_NONE, true}}, M);
    }
}

void Engine::channel_mix(int l, DeviceState* s, int T, int B) {
    Layer& L = layers_[l];
    const int M = T * B, D = cfg_.n_embd, F = cfg_.dim_ffn;
    auto& w = ws_;
    auto& m = L.m;
    if (cfg_.version == 7) {
        ln_mix(l, s, false, T, B, 1, false);
        matmuls({{&w["m0"], 0, D, &m["ffn.key.weight"], &w["h"], 0, F, ACT_RELU2, false}}, M);
        matmuls({{&w["h"], 0, F, &m["ffn.value.weight"], &w["x"], 0, D, ACT_NONE, true}}, M);
        return;
    }
    ln_mix(l, s, false, T, B, 2, false);  // k, r
    matmuls({{&w["m0"], 0, D, &m["ffn.key.weight"], &w["h"], 0, F, ACT_RELU2, false},
             {&w["m1"], 0, D, &m["ffn.receptance.weight"], &w["fr"], 0, D, ACT_SIGMOID, false}},
            M);
    matmuls({{&w["h"], 0, F, &m["ffn.value.weight"], &w["o"], 0, D, ACT_NONE, false}}, M);
    launch(k_.mul_add, cl::NDRange(round_up(D, sz_.wg), M), cl::NDRange(sz_.wg, 1), w["x"], w["fr"], w["o"],
           static_cast<cl_int>(D));
}

}  // namespace rwkvb::ocl
