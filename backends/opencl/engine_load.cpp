// Loading: the checkpoint's tensors onto the device (f32 or f16 matrices, derived vectors) and
// the kernel program for this device and model.
#include "dtype.hpp"
#include "engine.hpp"
#include "program.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

namespace rwkvb::ocl {

const char* kernel_source();  // kernels_embedded.cpp, generated from kernels/*.cl at build time

namespace {

[[noreturn]] void fail(int status, const std::string& what) { throw PluginError(status, what); }

}  // namespace

const rwkvb_tensor* Engine::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

const rwkvb_tensor& Engine::tensor(const std::string& name) const {
    const rwkvb_tensor* t = find(name);
    if (!t) fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor '" + name + "' is missing");
    return *t;
}

std::vector<float> Engine::floats(const std::string& name, size_t expect) const {
    const rwkvb_tensor& t = tensor(name);
    size_t numel = 1;
    for (int i = 0; i < t.ndim; ++i) numel *= static_cast<size_t>(t.shape[i]);
    const size_t eb = dtype_bytes(t.dtype);
    if (eb == 0)
        fail(RWKVB_ERR_UNSUPPORTED, "load: tensor '" + name + "' has dtype " + std::to_string(t.dtype) +
                                        "; expected F32, F64, F16 or BF16");
    if (numel != expect)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor '" + name + "' has " + std::to_string(numel) +
                                             " elements; the config implies " + std::to_string(expect));
    if (!t.data || t.nbytes < numel * eb)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor '" + name + "' has too few bytes for its shape");
    std::vector<float> out(numel);
    if (t.dtype == RWKVB_F32) {
        std::memcpy(out.data(), t.data, numel * 4);
    } else {
        for (size_t i = 0; i < numel; ++i) out[i] = static_cast<float>(element(t.dtype, t.data, i));
    }
    return out;
}

cl::Buffer Engine::upload(const std::vector<float>& v) {
    cl::Buffer b = alloc(v.size() * sizeof(float), &weight_bytes_);
    queue_.enqueueWriteBuffer(b, CL_TRUE, 0, v.size() * sizeof(float), v.data());
    return b;
}

Matrix Engine::upload_matrix_data(const float* data, int rows, int cols) {
    const size_t n = static_cast<size_t>(rows) * cols;
    Matrix m;
    m.rows = rows;
    m.cols = cols;
    if (weight_dtype_ == RWKVB_F16) {
        std::vector<uint16_t> h(n);
        for (size_t i = 0; i < n; ++i) h[i] = float_to_half(data[i]);
        m.buf = alloc(n * 2, &weight_bytes_);
        queue_.enqueueWriteBuffer(m.buf, CL_TRUE, 0, n * 2, h.data());
    } else {
        m.buf = alloc(n * 4, &weight_bytes_);
        queue_.enqueueWriteBuffer(m.buf, CL_TRUE, 0, n * 4, data);
    }
    return m;
}

// transpose: the tensor is stored [cols][rows] (LoRA matrices are [in][out]).
Matrix Engine::upload_matrix(const std::string& name, int rows, int cols, bool transpose) {
    std::vector<float> f = floats(name, static_cast<size_t>(rows) * cols);
    if (transpose) {
        std::vector<float> t(f.size());
        for (int r = 0; r < rows; ++r)
            for (int c = 0; c < cols; ++c) t[static_cast<size_t>(r) * cols + c] = f[static_cast<size_t>(c) * rows + r];
        f.swap(t);
    }
    return upload_matrix_data(f.data(), rows, cols);
}

void Engine::build_program() {
    const int head = cfg_.version >= 5 ? cfg_.head_size : 64;
    const std::string opts = build_options(sz_, head, weight_dtype_ == RWKVB_F16);
    const std::string cache = opt_.no_cache ? "" : opt_.cache_dir;
    BuildResult r;
    std::string log;
    try {
        r = ocl::build_program(ctx_, dev_.device, kernel_source(), opts, cache, &log);
    } catch (const PluginError& e) {
        // Keep the whole compiler log where a person can read it; last_error has its first line.
        std::string where;
        const std::string path = (cache.empty() ? std::string("/tmp") : cache) + "/build-error.log";
        std::ofstream out(path);
        if (out << log) where = "; full log: " + path;
        fail(e.status, e.what() + where);
    }
    cl::Program& p = r.program;
    auto make_kernel = [&](const char* name) {
        try {
            return cl::Kernel(p, name);
        } catch (const cl::Error& e) {
            fail(RWKVB_ERR_DEVICE, std::string("kernel '") + name + "': " + describe(e));
        }
    };
    k_.gemv = make_kernel("gemv_jobs");
    k_.gemm = make_kernel("gemm");
    k_.layernorm = make_kernel("layernorm");
    k_.ln_mix = make_kernel("ln_mix");
    k_.groupnorm_gate = make_kernel("groupnorm_gate");
    k_.v6_mix = make_kernel("v6_mix");
    k_.v6_decay = make_kernel("v6_decay");
    k_.mul_add = make_kernel("mul_add");
    k_.fill = make_kernel("fill");
    k_.wkv4 = make_kernel("wkv4");
    k_.wkv5 = make_kernel("wkv5");
    k_.wkv7 = make_kernel("wkv7");
    if (cfg_.version >= 5) {
        const size_t lim = std::min(k_.wkv5.getWorkGroupInfo<CL_KERNEL_WORK_GROUP_SIZE>(dev_.device),
                                    k_.wkv7.getWorkGroupInfo<CL_KERNEL_WORK_GROUP_SIZE>(dev_.device));
        if (static_cast<size_t>(head) > lim)
            fail(RWKVB_ERR_UNSUPPORTED, "load: head size " + std::to_string(head) +
                                            " exceeds the device's work-group limit for the WKV kernels (" +
                                            std::to_string(lim) + ")");
    }
}

void Engine::load(const rwkvb_model_config& cfg, const rwkvb_tensor* tensors, size_t n, int32_t weight_dtype) {
    if (loaded_) fail(RWKVB_ERR_INVALID_ARGUMENT, "load: a model is already loaded in this context");
    if (!tensors && n) fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensors is NULL");
    if (cfg.version < 4 || cfg.version > 7)
        fail(RWKVB_ERR_UNSUPPORTED, "load: RWKV version " + std::to_string(cfg.version) + " (expected 4..7)");
    if (weight_dtype != RWKVB_F32 && weight_dtype != RWKVB_F16)
        fail(RWKVB_ERR_UNSUPPORTED, "load: weight dtype " + std::to_string(weight_dtype) +
                                        " (this backend computes with f32 or f16 weights)");
    if (cfg.n_layer <= 0 || cfg.n_embd <= 0 || cfg.dim_att <= 0 || cfg.dim_ffn <= 0 || cfg.vocab_size <= 0)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: non-positive model dimension in the config");
    if (cfg.version >= 5 && (cfg.head_size <= 0 || cfg.n_head <= 0 || cfg.n_head * cfg.head_size != cfg.dim_att))
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: n_head × head_size must equal dim_att");
    if (cfg.version == 4 && cfg.dim_att != cfg.n_embd)
        fail(RWKVB_ERR_UNSUPPORTED, "load: v4 with dim_att != n_embd");
    if (cfg.version == 7 && cfg.dim_att != cfg.n_embd)
        fail(RWKVB_ERR_UNSUPPORTED, "load: v7 with dim_att != n_embd");
    if (cfg.version == 7 && cfg.head_size % 4 != 0)  // wkv7 works in float4s of the head
        fail(RWKVB_ERR_UNSUPPORTED, "load: v7 head size " + std::to_string(cfg.head_size) + " (expected a multiple of 4)");
    cfg_ = cfg;
    weight_dtype_ = weight_dtype;
    tensors_ = tensors;
    n_tensors_ = n;
    for (size_t i = 0; i < n; ++i) {
        if (!tensors[i].name) fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor " + std::to_string(i) + " has no name");
        index_[tensors[i].name] = i;
    }
    build_program();

    const int D = cfg.n_embd, V = cfg.vocab_size;
    const rwkvb_tensor& emb = tensor("emb.weight");
    {
        size_t numel = 1;
        for (int i = 0; i < emb.ndim; ++i) numel *= static_cast<size_t>(emb.shape[i]);
        if (numel != static_cast<size_t>(V) * D || dtype_bytes(emb.dtype) == 0 || !emb.data ||
            emb.nbytes < numel * dtype_bytes(emb.dtype))
            fail(RWKVB_ERR_INVALID_ARGUMENT, "load: tensor 'emb.weight' does not hold V×D float elements");
        emb_ = emb.data;
        emb_dtype_ = emb.dtype;
    }
    ln0_w_ = upload(floats("blocks.0.ln0.weight", D));
    ln0_b_ = upload(floats("blocks.0.ln0.bias", D));
    lnout_w_ = upload(floats("ln_out.weight", D));
    lnout_b_ = upload(floats("ln_out.bias", D));
    head_ = upload_matrix("head.weight", V, D, false);

    v5_gate_ = !(cfg.version == 5 && cfg.subversion == 0);
    // The LoRA intermediates side by side: v6's five mixes, then its decay; v7's four at once.
    lora_max_ = std::max({5 * cfg.lora_maa, cfg.lora_decay,
                          cfg.version == 7 ? cfg.lora_decay + cfg.lora_iclr + cfg.lora_value + cfg.lora_gate : 0, 1});
    if (cfg.version == 6 && (cfg.lora_maa <= 0 || cfg.lora_decay <= 0))
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: v6 config without LoRA ranks (lora_maa, lora_decay)");
    if (cfg.version == 7 && (cfg.lora_decay <= 0 || cfg.lora_iclr <= 0 || cfg.lora_gate <= 0 ||
                             (cfg.n_layer > 1 && cfg.lora_value <= 0)))
        fail(RWKVB_ERR_INVALID_ARGUMENT, "load: v7 config without LoRA ranks");
    layers_.resize(cfg.n_layer);
    for (int l = 0; l < cfg.n_layer; ++l) load_layer(l);
    wkv_floats_ = cfg.version == 4 ? 3 * static_cast<size_t>(cfg.dim_att)
                                   : static_cast<size_t>(cfg.n_head) * cfg.head_size * cfg.head_size;
    queue_.finish();
    loaded_ = true;
}

void Engine::load_layer(int l) {
    const int D = cfg_.n_embd, A = cfg_.dim_att, F = cfg_.dim_ffn, H = cfg_.n_head, N = cfg_.head_size;
    const std::string p = "blocks." + std::to_string(l) + ".";
    Layer& L = layers_[l];
    auto vec = [&](const std::string& key, size_t n) { L.v[key] = upload(floats(p + key, n)); };
    auto mat = [&](const std::string& key, int rows, int cols) { L.m[key] = upload_matrix(p + key, rows, cols, false); };
    auto lora = [&](const std::string& key, int rows, int cols) { L.m[key] = upload_matrix(p + key, rows, cols, true); };
    // Packs mixes [n][D]; one_minus turns v4/v5's z·μ + p·(1−μ) into z + (p−z)·(1−μ).
    auto mixes = [&](const std::string& key, const std::vector<std::string>& names, bool one_minus) {
        std::vector<float> all;
        for (const auto& nm : names) {
            std::vector<float> f = floats(p + nm, D);
            if (one_minus)
                for (float& x : f) x = static_cast<float>(1.0 - static_cast<double>(x));
            all.insert(all.end(), f.begin(), f.end());
        }
        L.v[key] = upload(all);
    };

    vec("ln1.weight", D);
    vec("ln1.bias", D);
    vec("ln2.weight", D);
    vec("ln2.bias", D);
    mat("att.receptance.weight", A, D);
    mat("att.key.weight", A, D);
    mat("att.value.weight", A, D);
    mat("att.output.weight", D, A);
    mat("ffn.key.weight", F, D);
    mat("ffn.value.weight", D, F);

    if (cfg_.version == 4) {
        mixes("mu_att", {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r"}, true);
        mixes("mu_ffn", {"ffn.time_mix_k", "ffn.time_mix_r"}, true);
        std::vector<float> d = floats(p + "att.time_decay", A);
        for (float& x : d) x = static_cast<float>(-std::exp(static_cast<double>(x)));
        L.v["decay"] = upload(d);
        L.v["first"] = upload(floats(p + "att.time_first", A));
        mat("ffn.receptance.weight", D, D);
    } else if (cfg_.version == 5) {
        std::vector<std::string> mu = {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r"};
        if (v5_gate_) mu.push_back("att.time_mix_g");
        mixes("mu_att", mu, true);
        mixes("mu_ffn", {"ffn.time_mix_k", "ffn.time_mix_r"}, true);
        if (v5_gate_) mat("att.gate.weight", A, D);
        mat("ffn.receptance.weight", D, D);
        vec("att.ln_x.weight", A);
        vec("att.ln_x.bias", A);
        // Decay and bonus: per channel (5.2) or per head (5.0/5.1, expanded to channels).
        const bool per_channel = cfg_.subversion == 2;
        const size_t n_dec = per_channel ? A : H;
        std::vector<float> d = floats(p + "att.time_decay", n_dec);
        std::vector<float> u;
        const bool faaaa = find(p + "att.time_faaaa") != nullptr;
        if (faaaa) {
            u = floats(p + "att.time_faaaa", n_dec);
        } else {
            u = floats(p + "att.time_first", n_dec);
            for (float& x : u) x = static_cast<float>(std::exp(static_cast<double>(x)));
        }
        std::vector<float> w(A), uu(A);
        for (int c = 0; c < A; ++c) {
            const size_t src = per_channel ? c : c / N;
            w[c] = static_cast<float>(std::exp(-std::exp(static_cast<double>(d[src]))));
            uu[c] = u[src];
        }
        L.v["decay"] = upload(w);
        L.v["first"] = upload(uu);
    } else if (cfg_.version == 6) {
        const int Dm = cfg_.lora_maa, Dd = cfg_.lora_decay;
        mixes("mu_x", {"att.time_maa_x"}, false);
        mixes("mu_att", {"att.time_maa_w", "att.time_maa_k", "att.time_maa_v", "att.time_maa_r", "att.time_maa_g"},
              false);
        mixes("mu_ffn", {"ffn.time_maa_k", "ffn.time_maa_r"}, false);
        lora("att.time_maa_w1", 5 * Dm, D);
        // time_maa_w2 [5][Dm][D]: five [in][out] slots, each uploaded as its own [D][Dm].
        std::vector<float> w2 = floats(p + "att.time_maa_w2", static_cast<size_t>(5) * Dm * D);
        for (int s = 0; s < 5; ++s) {
            std::vector<float> t(static_cast<size_t>(D) * Dm);
            for (int r = 0; r < D; ++r)
                for (int c = 0; c < Dm; ++c)
                    t[static_cast<size_t>(r) * Dm + c] = w2[(static_cast<size_t>(s) * Dm + c) * D + r];
            L.m["maa_w2." + std::to_string(s)] = upload_matrix_data(t.data(), D, Dm);
        }
        vec("att.time_decay", A);
        lora("att.time_decay_w1", Dd, D);
        lora("att.time_decay_w2", A, Dd);
        vec("att.time_faaaa", A);
        mat("att.gate.weight", A, D);
        mat("ffn.receptance.weight", D, D);
        vec("att.ln_x.weight", A);
        vec("att.ln_x.bias", A);
    } else {  // v7
        mixes("mu_att", {"att.x_r", "att.x_w", "att.x_k", "att.x_v", "att.x_a", "att.x_g"}, false);
        mixes("mu_ffn", {"ffn.x_k"}, false);
        vec("att.w0", D);
        vec("att.a0", D);
        vec("att.k_k", D);
        vec("att.k_a", D);
        vec("att.r_k", A);
        vec("att.ln_x.weight", A);
        vec("att.ln_x.bias", A);
        lora("att.w1", cfg_.lora_decay, D);
        lora("att.w2", D, cfg_.lora_decay);
        lora("att.a1", cfg_.lora_iclr, D);
        lora("att.a2", D, cfg_.lora_iclr);
        lora("att.g1", cfg_.lora_gate, D);
        lora("att.g2", D, cfg_.lora_gate);
        if (l > 0) {  // block 0's value-residual tensors are never used (RWKV.md §5.1)
            vec("att.v0", D);
            lora("att.v1", cfg_.lora_value, D);
            lora("att.v2", D, cfg_.lora_value);
        }
    }
}

}  // namespace rwkvb::ocl
