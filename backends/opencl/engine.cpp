#include "engine.hpp"

#include "program.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

namespace rwkvb::ocl {

const char* kernel_source();  // kernels_embedded.cpp, generated from kernels/*.cl at build time

namespace {

constexpr int ACT_NONE = 0, ACT_RELU2 = 1, ACT_SIGMOID = 2, ACT_SILU = 3, ACT_TANH = 4;
constexpr float LN_EPS = 1e-5f, GN_EPS = 64e-5f;
constexpr int MAX_CHUNK_ROWS = 512;  // rows (streams × tokens) per pass through the layers

[[noreturn]] void fail(int status, const std::string& what) { throw PluginError(status, what); }

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

int floor_pow2(size_t x) {
    int p = 1;
    while (static_cast<size_t>(p) * 2 <= x) p *= 2;
    return p;
}

float half_to_float(uint16_t h) {
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            uint32_t m = man;
            do { ++e; m <<= 1; } while (!(m & 0x400));
            bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_half(float f) {  // round to nearest even
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow → inf
    if (absx < 0x38800000u) {  // subnormal or zero in half
        if (absx < 0x33000000u) return static_cast<uint16_t>(sign);
        const uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
        const int shift = 126 - static_cast<int>(e);  // 14 - (e - 112)
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (r & 1))) ++r;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = ((absx - 0x38000000u) >> 13);
    const uint32_t rem = absx & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
}

double element(int dtype, const void* data, size_t i) {
    const auto* p = static_cast<const unsigned char*>(data);
    switch (dtype) {
    case RWKVB_F64: { double d; std::memcpy(&d, p + 8 * i, 8); return d; }
    case RWKVB_F32: { float f; std::memcpy(&f, p + 4 * i, 4); return f; }
    case RWKVB_F16: { uint16_t h; std::memcpy(&h, p + 2 * i, 2); return half_to_float(h); }
    case RWKVB_BF16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        const uint32_t bits = static_cast<uint32_t>(h) << 16;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    default: return 0;
    }
}

size_t dtype_bytes(int dtype) {
    switch (dtype) {
    case RWKVB_F64: return 8;
    case RWKVB_F32: return 4;
    case RWKVB_F16: case RWKVB_BF16: return 2;
    default: return 0;
    }
}

// Sets the arguments in order and enqueues the kernel.
template <class... Args>
void launch(cl::CommandQueue& q, cl::Kernel& k, const cl::NDRange& global, const cl::NDRange& local,
            const Args&... args) {
    cl_uint i = 0;
    (k.setArg(i++, args), ...);
    q.enqueueNDRangeKernel(k, cl::NullRange, global, local);
}

}  // namespace

Engine::Engine(const DeviceEntry& dev, const Options& opt) : dev_(dev), opt_(opt) {
    facts_ = device_facts(dev);
    ctx_ = cl::Context(dev.device);
    queue_ = cl::CommandQueue(ctx_, dev.device);
    // Per-device sizes: reductions use up to 64 items (a wavefront/warp multiple on GPUs, one
    // vector loop on CPUs), never more than the device allows; options override.
    wg_ = opt.wg ? opt.wg : std::min(64, floor_pow2(facts_.max_wg));
    if (static_cast<size_t>(wg_) > facts_.max_wg)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "option wg=" + std::to_string(wg_) + ": device allows at most " +
                                             std::to_string(facts_.max_wg));
    tm_ = opt.tile_m ? opt.tile_m : 4;
    tn_ = opt.tile_n ? opt.tile_n : 2;
    gemv_rows_ = opt.gemv_max_rows ? opt.gemv_max_rows : 4;
    gemv_per_group_ = opt.gemv == Options::Gemv::Auto ? !facts_.is_cpu : opt.gemv == Options::Gemv::Group;
}

// ---- loading ----------------------------------------------------------------------------------

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

cl::Buffer Engine::alloc(size_t bytes, uint64_t* counter) {
    if (bytes > facts_.max_alloc)
        fail(RWKVB_ERR_OUT_OF_MEMORY, "clCreateBuffer: " + std::to_string(bytes) +
                                          " bytes exceed the device's largest allocation (" +
                                          std::to_string(facts_.max_alloc) + ")");
    cl::Buffer b(ctx_, CL_MEM_READ_WRITE, std::max<size_t>(bytes, 4));
    *counter += bytes;
    note_peak();
    return b;
}

void Engine::note_peak() { peak_ = std::max(peak_, weight_bytes_ + state_bytes_ + ws_bytes_); }

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
    std::string opts = "-cl-std=CL1.2 -DHEAD=" + std::to_string(head) + " -DWG=" + std::to_string(wg_) +
                       " -DTM=" + std::to_string(tm_) + " -DTN=" + std::to_string(tn_);
    if (weight_dtype_ == RWKVB_F16) opts += " -DWEIGHT_F16";
    const std::string cache = opt_.no_cache ? "" : (opt_.cache_dir.empty() ? default_cache_dir() : opt_.cache_dir);
    BuildResult r;
    try {
        r = ocl::build_program(ctx_, dev_.device, kernel_source(), opts, cache, &build_log_);
    } catch (const PluginError& e) {
        // Keep the whole compiler log where a person can read it; last_error has its first line.
        std::string where;
        const std::string dir = cache.empty() ? "/tmp" : cache;
        const std::string path = dir + "/build-error.log";
        std::ofstream out(path);
        if (out << build_log_) where = "; full log: " + path;
        fail(e.status, e.what() + where);
    }
    program_from_cache_ = r.from_cache;
    cl::Program& p = r.program;
    auto make_kernel = [](cl::Program& prog, const char* name) {
        try {
            return cl::Kernel(prog, name);
        } catch (const cl::Error& e) {
            fail(RWKVB_ERR_DEVICE, std::string("kernel '") + name + "': " + describe(e));
        }
    };
    k_.gemv = make_kernel(p, "gemv");
    k_.gemv_wg = make_kernel(p, "gemv_wg");
    k_.gemm = make_kernel(p, "gemm");
    k_.layernorm = make_kernel(p, "layernorm");
    k_.groupnorm_gate = make_kernel(p, "groupnorm_gate");
    k_.v7_groupnorm_bonus = make_kernel(p, "v7_groupnorm_bonus");
    k_.token_shift = make_kernel(p, "token_shift");
    k_.mix = make_kernel(p, "shift_mix");
    k_.v6_mix = make_kernel(p, "v6_mix");
    k_.v6_decay = make_kernel(p, "v6_decay");
    k_.mul_add = make_kernel(p, "mul_add");
    k_.fill = make_kernel(p, "fill");
    k_.wkv4 = make_kernel(p, "wkv4");
    k_.wkv5 = make_kernel(p, "wkv5");
    k_.v7_prep = make_kernel(p, "v7_prep");
    k_.wkv7 = make_kernel(p, "wkv7");
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
    lora_max_ = std::max({5 * cfg.lora_maa, cfg.lora_decay, cfg.lora_iclr, cfg.lora_value, cfg.lora_gate, 1});
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

// ---- state ------------------------------------------------------------------------------------

DeviceState* Engine::state_new(int batch) {
    if (!loaded_) fail(RWKVB_ERR_INVALID_ARGUMENT, "state_new: no model loaded");
    if (batch <= 0 || batch > 65536) fail(RWKVB_ERR_INVALID_ARGUMENT, "state_new: batch " + std::to_string(batch));
    auto s = std::make_unique<DeviceState>();
    s->batch = batch;
    const size_t L = cfg_.n_layer, D = cfg_.n_embd;
    uint64_t bytes = 0;
    s->att = alloc(L * batch * D * 4, &bytes);
    s->ffn = alloc(L * batch * D * 4, &bytes);
    s->wkv = alloc(L * batch * wkv_floats_ * 4, &bytes);
    s->bytes = bytes;
    state_bytes_ += bytes;
    note_peak();
    state_reset(s.get());
    return s.release();
}

void Engine::state_reset(DeviceState* s) {
    const size_t L = cfg_.n_layer, D = cfg_.n_embd, B = s->batch;
    auto fill = [&](cl::Buffer& b, size_t n, size_t off, float value) {
        launch(queue_, k_.fill, cl::NDRange(round_up(n, 64)), cl::NDRange(64), b, static_cast<cl_int>(off), value,
               static_cast<cl_int>(n));
    };
    fill(s->att, L * B * D, 0, 0.0f);
    fill(s->ffn, L * B * D, 0, 0.0f);
    fill(s->wkv, L * B * wkv_floats_, 0, 0.0f);
    if (cfg_.version == 4) {  // pp starts at -1e30 (RWKV.md §2.2)
        const size_t A = cfg_.dim_att;
        for (size_t l = 0; l < L; ++l)
            for (size_t b = 0; b < B; ++b) fill(s->wkv, A, (l * B + b) * wkv_floats_ + 2 * A, -1e30f);
    }
}

void Engine::state_free(DeviceState* s) {
    state_bytes_ -= s->bytes;
    delete s;
}

void Engine::state_export(const DeviceState* s, int stream, float* out, size_t* n_floats) {
    const size_t L = cfg_.n_layer, D = cfg_.n_embd, B = s->batch;
    const size_t per_layer = 2 * D + wkv_floats_;
    if (stream < 0 || static_cast<size_t>(stream) >= B)
        fail(RWKVB_ERR_INVALID_ARGUMENT, "state_export: stream " + std::to_string(stream) + " of a batch of " +
                                             std::to_string(B));
    *n_floats = L * per_layer;
    if (!out) return;
    for (size_t l = 0; l < L; ++l) {
        float* o = out + l * per_layer;
        queue_.enqueueReadBuffer(s->att, CL_FALSE, (l * B + stream) * D * 4, D * 4, o);
        queue_.enqueueReadBuffer(s->wkv, CL_FALSE, (l * B + stream) * wkv_floats_ * 4, wkv_floats_ * 4, o + D);
        queue_.enqueueReadBuffer(s->ffn, CL_FALSE, (l * B + stream) * D * 4, D * 4, o + D + wkv_floats_);
    }
    queue_.finish();
}

rwkvb_memory Engine::memory() const {
    rwkvb_memory m{};
    m.weights = weight_bytes_;
    m.state = state_bytes_;
    m.workspace = ws_bytes_;
    m.peak = peak_;
    return m;
}

// ---- forward ----------------------------------------------------------------------------------

void Engine::ensure_workspace(int rows) {
    if (rows <= ws_rows_) return;
    ws_.clear();
    ws_bytes_ = 0;
    const size_t R = rows, D = cfg_.n_embd, A = cfg_.dim_att, F = cfg_.dim_ffn;
    auto add = [&](const char* name, size_t floats) { ws_[name] = alloc(floats * 4, &ws_bytes_); };
    add("x", R * D);
    add("z", R * D);
    add("dz", R * D);
    for (const char* n : {"m0", "m1", "m2", "m3", "m4", "m5"}) add(n, R * std::max(D, A));
    for (const char* n : {"r", "k", "v", "g", "w", "a", "y", "kk"}) add(n, R * A);
    add("o", R * std::max(D, A));  // GroupNorm output, then the channel mix's value
    add("h", R * F);
    add("fr", R * D);
    add("lora", R * lora_max_);
    if (cfg_.version == 6) add("mm", 5 * R * D);
    if (cfg_.version == 7) {
        add("vfirst", R * A);
        add("vg", R * A);
    }
    add("hn", R * D);
    host_rows_.assign(R * D, 0.0f);
    ws_rows_ = rows;
}

void Engine::ensure_logits(int rows) {
    if (rows <= logit_rows_) return;
    if (logit_rows_) ws_bytes_ -= static_cast<uint64_t>(logit_rows_) * cfg_.vocab_size * 4;
    logits_buf_ = alloc(static_cast<size_t>(rows) * cfg_.vocab_size * 4, &ws_bytes_);
    logit_rows_ = rows;
}

void Engine::matmul(const cl::Buffer& x, int x_off, int ldx, const Matrix& w, const cl::Buffer& y, int y_off,
                    int ldy, int M, int act, bool accumulate) {
    const cl_int N = w.rows, K = w.cols, acc = accumulate ? 1 : 0;
    if (M <= gemv_rows_ && gemv_per_group_) {
        launch(queue_, k_.gemv_wg, cl::NDRange(static_cast<size_t>(N) * wg_), cl::NDRange(wg_), x, x_off, ldx, w.buf,
               y, y_off, ldy, static_cast<cl_int>(M), N, K, static_cast<cl_int>(act), acc);
    } else if (M <= gemv_rows_) {
        const size_t local = std::min<size_t>(64, facts_.max_wg);
        launch(queue_, k_.gemv, cl::NDRange(round_up(N, local)), cl::NDRange(local), x, x_off, ldx, w.buf, y, y_off,
               ldy, static_cast<cl_int>(M), N, K, static_cast<cl_int>(act), acc);
    } else {
        const size_t gx = (N + tn_ - 1) / tn_, gy = (M + tm_ - 1) / tm_;
        const size_t lx = std::min<size_t>(16, facts_.max_wg), ly = std::max<size_t>(1, std::min<size_t>(4, facts_.max_wg / lx));
        launch(queue_, k_.gemm, cl::NDRange(round_up(gx, lx), round_up(gy, ly)), cl::NDRange(lx, ly), x, x_off, ldx,
               w.buf, y, y_off, ldy, static_cast<cl_int>(M), N, K, static_cast<cl_int>(act), acc);
    }
}

void Engine::layernorm(const cl::Buffer& x, int in_stride, int in_off, const cl::Buffer& y, const cl::Buffer& g,
                       const cl::Buffer& b, int rows) {
    launch(queue_, k_.layernorm, cl::NDRange(static_cast<size_t>(rows) * wg_), cl::NDRange(wg_), x,
           static_cast<cl_int>(in_stride), static_cast<cl_int>(in_off), y, g, b, static_cast<cl_int>(cfg_.n_embd),
           LN_EPS);
}

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
    matmul(hn, 0, D, head_, logits_buf_, 0, V, rows, ACT_NONE, false);
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

void Engine::time_mix(int l, DeviceState* s, int T, int B) {
    Layer& L = layers_[l];
    const int M = T * B, D = cfg_.n_embd, A = cfg_.dim_att, H = cfg_.n_head, N = cfg_.head_size;
    auto& w = ws_;
    const cl_int iD = D, iA = A, iT = T, iH = H, iM = M;
    const cl::NDRange rowsD(round_up(D, wg_), M), localD(wg_, 1);
    const cl::NDRange rowsA(round_up(A, wg_), M);

    layernorm(w["x"], 1, 0, w["z"], L.v["ln1.weight"], L.v["ln1.bias"], M);
    launch(queue_, k_.token_shift, cl::NDRange(round_up(D, wg_), B), localD, w["z"], s->att,
           static_cast<cl_int>(static_cast<size_t>(l) * B * D), w["dz"], iT, iD);
    const cl_int s_off = static_cast<cl_int>(static_cast<size_t>(l) * B * wkv_floats_);
    const cl::NDRange heads(static_cast<size_t>(H) * N, static_cast<size_t>(B)), headLocal(N, 1);
    const cl::NDRange headRows(static_cast<size_t>(H) * wg_, static_cast<size_t>(M)), gnLocal(wg_, 1);

    if (cfg_.version == 4) {
        launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_att"], cl_int(3), iD, w["m0"], w["m1"],
               w["m2"], w["m2"], w["m2"], w["m2"]);
        matmul(w["m0"], 0, D, L.m["att.key.weight"], w["k"], 0, A, M, ACT_NONE, false);
        matmul(w["m1"], 0, D, L.m["att.value.weight"], w["v"], 0, A, M, ACT_NONE, false);
        matmul(w["m2"], 0, D, L.m["att.receptance.weight"], w["r"], 0, A, M, ACT_SIGMOID, false);
        launch(queue_, k_.wkv4, cl::NDRange(round_up(A, wg_), B), localD, w["r"], w["k"], w["v"], L.v["decay"],
               L.v["first"], s->wkv, s_off, w["y"], iT, iA);
        matmul(w["y"], 0, A, L.m["att.output.weight"], w["x"], 0, D, M, ACT_NONE, true);
    } else if (cfg_.version == 5 || cfg_.version == 6) {
        if (cfg_.version == 5) {
            launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_att"], cl_int(v5_gate_ ? 4 : 3), iD,
                   w["m1"], w["m2"], w["m3"], w["m4"], w["m4"], w["m4"]);  // k, v, r, g
        } else {
            const int Dm = cfg_.lora_maa, Dd = cfg_.lora_decay;
            launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_x"], cl_int(1), iD, w["m0"], w["m0"],
                   w["m0"], w["m0"], w["m0"], w["m0"]);
            matmul(w["m0"], 0, D, L.m["att.time_maa_w1"], w["lora"], 0, 5 * Dm, M, ACT_TANH, false);
            for (int sl = 0; sl < 5; ++sl)
                matmul(w["lora"], sl * Dm, 5 * Dm, L.m["maa_w2." + std::to_string(sl)], w["mm"], sl * M * D, D, M,
                       ACT_NONE, false);
            launch(queue_, k_.v6_mix, rowsD, localD, w["z"], w["dz"], L.v["mu_att"], w["mm"], iM, iD);
            // planes of mm: w, k, v, r, g
            matmul(w["mm"], 0, D, L.m["att.time_decay_w1"], w["lora"], 0, Dd, M, ACT_TANH, false);
            matmul(w["lora"], 0, Dd, L.m["att.time_decay_w2"], w["w"], 0, A, M, ACT_NONE, false);
            launch(queue_, k_.v6_decay, rowsA, localD, w["w"], L.v["att.time_decay"], iA);
        }
        // Inputs: v5 in m1..m4, v6 in planes 1..4 of mm.
        const bool v6 = cfg_.version == 6;
        auto in = [&](int slot) -> std::pair<const cl::Buffer*, int> {
            if (v6) return {&w["mm"], slot * M * D};
            static const char* names[] = {"", "m1", "m2", "m3", "m4"};
            return {&w[names[slot]], 0};
        };
        auto [xk, ok] = in(1);
        auto [xv, ov] = in(2);
        auto [xr, orr] = in(3);
        matmul(*xk, ok, D, L.m["att.key.weight"], w["k"], 0, A, M, ACT_NONE, false);
        matmul(*xv, ov, D, L.m["att.value.weight"], w["v"], 0, A, M, ACT_NONE, false);
        matmul(*xr, orr, D, L.m["att.receptance.weight"], w["r"], 0, A, M, ACT_NONE, false);
        const bool gate = v6 || v5_gate_;
        if (gate) {
            auto [xg, og] = in(4);
            matmul(*xg, og, D, L.m["att.gate.weight"], w["g"], 0, A, M, ACT_SILU, false);
        }
        const cl::Buffer& decay = v6 ? w["w"] : L.v["decay"];
        const cl::Buffer& bonus = v6 ? L.v["att.time_faaaa"] : L.v["first"];
        launch(queue_, k_.wkv5, heads, headLocal, w["r"], w["k"], w["v"], decay, cl_int(v6 ? A : 0), bonus, s->wkv,
               s_off, w["y"], iT, iH);
        launch(queue_, k_.groupnorm_gate, headRows, gnLocal, w["y"], w["g"], cl_int(gate ? 1 : 0),
               L.v["att.ln_x.weight"], L.v["att.ln_x.bias"], w["o"], cl_int(N), iA, GN_EPS);
        matmul(w["o"], 0, A, L.m["att.output.weight"], w["x"], 0, D, M, ACT_NONE, true);
    } else {  // v7; mixes r, w, k, v, a, g → m0..m5
        launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_att"], cl_int(6), iD, w["m0"], w["m1"],
               w["m2"], w["m3"], w["m4"], w["m5"]);
        const int Dw = cfg_.lora_decay, Da = cfg_.lora_iclr, Dv = cfg_.lora_value, Dg = cfg_.lora_gate;
        matmul(w["m0"], 0, D, L.m["att.receptance.weight"], w["r"], 0, A, M, ACT_NONE, false);
        matmul(w["m2"], 0, D, L.m["att.key.weight"], w["k"], 0, A, M, ACT_NONE, false);
        matmul(w["m3"], 0, D, L.m["att.value.weight"], w["v"], 0, A, M, ACT_NONE, false);
        matmul(w["m1"], 0, D, L.m["att.w1"], w["lora"], 0, Dw, M, ACT_TANH, false);
        matmul(w["lora"], 0, Dw, L.m["att.w2"], w["w"], 0, D, M, ACT_NONE, false);
        matmul(w["m4"], 0, D, L.m["att.a1"], w["lora"], 0, Da, M, ACT_NONE, false);
        matmul(w["lora"], 0, Da, L.m["att.a2"], w["a"], 0, D, M, ACT_NONE, false);
        matmul(w["m5"], 0, D, L.m["att.g1"], w["lora"], 0, Dg, M, ACT_SIGMOID, false);
        matmul(w["lora"], 0, Dg, L.m["att.g2"], w["g"], 0, D, M, ACT_NONE, false);
        const bool layer0 = l == 0;
        if (!layer0) {
            matmul(w["m3"], 0, D, L.m["att.v1"], w["lora"], 0, Dv, M, ACT_NONE, false);
            matmul(w["lora"], 0, Dv, L.m["att.v2"], w["vg"], 0, D, M, ACT_NONE, false);
        }
        const cl::Buffer& v0 = layer0 ? L.v["att.w0"] : L.v["att.v0"];  // v0 unused in layer 0
        launch(queue_, k_.v7_prep, cl::NDRange(static_cast<size_t>(H) * N, M), headLocal, w["k"], w["v"], w["w"],
               w["a"], w["vg"], w["vfirst"], w["kk"], L.v["att.w0"], L.v["att.a0"], v0, L.v["att.k_k"],
               L.v["att.k_a"], cl_int(layer0 ? 1 : 0), iA);
        launch(queue_, k_.wkv7, heads, headLocal, w["r"], w["w"], w["k"], w["v"], w["kk"], w["a"], s->wkv, s_off,
               w["y"], iT, iH);
        launch(queue_, k_.v7_groupnorm_bonus, headRows, gnLocal, w["y"], w["r"], w["k"], w["v"], L.v["att.r_k"],
               w["g"], L.v["att.ln_x.weight"], L.v["att.ln_x.bias"], w["o"], cl_int(N), iA, GN_EPS);
        matmul(w["o"], 0, A, L.m["att.output.weight"], w["x"], 0, D, M, ACT_NONE, true);
    }
}

void Engine::channel_mix(int l, DeviceState* s, int T, int B) {
    Layer& L = layers_[l];
    const int M = T * B, D = cfg_.n_embd, F = cfg_.dim_ffn;
    auto& w = ws_;
    const cl_int iD = D, iT = T;
    const cl::NDRange rowsD(round_up(D, wg_), M), localD(wg_, 1);
    layernorm(w["x"], 1, 0, w["z"], L.v["ln2.weight"], L.v["ln2.bias"], M);
    launch(queue_, k_.token_shift, cl::NDRange(round_up(D, wg_), B), localD, w["z"], s->ffn,
           static_cast<cl_int>(static_cast<size_t>(l) * B * D), w["dz"], iT, iD);
    if (cfg_.version == 7) {
        launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_ffn"], cl_int(1), iD, w["m0"], w["m0"],
               w["m0"], w["m0"], w["m0"], w["m0"]);
        matmul(w["m0"], 0, D, L.m["ffn.key.weight"], w["h"], 0, F, M, ACT_RELU2, false);
        matmul(w["h"], 0, F, L.m["ffn.value.weight"], w["x"], 0, D, M, ACT_NONE, true);
        return;
    }
    launch(queue_, k_.mix, rowsD, localD, w["z"], w["dz"], L.v["mu_ffn"], cl_int(2), iD, w["m0"], w["m1"], w["m1"],
           w["m1"], w["m1"], w["m1"]);
    matmul(w["m0"], 0, D, L.m["ffn.key.weight"], w["h"], 0, F, M, ACT_RELU2, false);
    matmul(w["m1"], 0, D, L.m["ffn.receptance.weight"], w["fr"], 0, D, M, ACT_SIGMOID, false);
    matmul(w["h"], 0, F, L.m["ffn.value.weight"], w["o"], 0, D, M, ACT_NONE, false);
    launch(queue_, k_.mul_add, rowsD, localD, w["x"], w["fr"], w["o"], iD);
}

}  // namespace rwkvb::ocl
