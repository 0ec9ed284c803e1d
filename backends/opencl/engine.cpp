// The engine's device sizes, launches, memory accounting, recurrent state and workspace.
#include "engine.hpp"

#include <algorithm>
#include <chrono>
#include <climits>

namespace rwkvb::ocl {

namespace {

[[noreturn]] void fail(int status, const std::string& what) { throw PluginError(status, what); }

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

}  // namespace

cl_int to_cl_int(uint64_t v, const char* what) {
    if (v > static_cast<uint64_t>(INT_MAX))
        fail(RWKVB_ERR_INVALID_ARGUMENT, std::string(what) + ": " + std::to_string(v) +
                                             " elements exceed the 2^31-1 this backend's kernels index");
    return static_cast<cl_int>(v);
}

Engine::Engine(const DeviceEntry& dev, const Options& opt) : dev_(dev), opt_(opt) {
    facts_ = device_facts(dev);
    ctx_ = cl::Context(dev.device);
    queue_ = cl::CommandQueue(ctx_, dev.device);
    if (opt.profile) profile_ = std::make_unique<PhaseProfile>("opencl");
    sz_ = choose_sizes(facts_, opt);
}

void Engine::enqueue(cl::Kernel& k, const cl::NDRange& global, const cl::NDRange& local, const std::string& label) {
    if (!profile_) {
        queue_.enqueueNDRangeKernel(k, cl::NullRange, global, local);
        return;
    }
    queue_.finish();
    const auto t0 = std::chrono::steady_clock::now();
    queue_.enqueueNDRangeKernel(k, cl::NullRange, global, local);
    queue_.finish();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    profile_->add(k.getInfo<CL_KERNEL_FUNCTION_NAME>() + label, s);
}

// ---- memory -----------------------------------------------------------------------------------

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

rwkvb_memory Engine::memory() const {
    rwkvb_memory m{};
    m.weights = weight_bytes_;
    m.state = state_bytes_;
    m.workspace = ws_bytes_;
    m.peak = peak_;
    return m;
}

// ---- state ------------------------------------------------------------------------------------

DeviceState* Engine::state_new(int batch) {
    if (!loaded_) fail(RWKVB_ERR_INVALID_ARGUMENT, "state_new: no model loaded");
    if (batch <= 0 || batch > 65536) fail(RWKVB_ERR_INVALID_ARGUMENT, "state_new: batch " + std::to_string(batch));
    auto s = std::make_unique<DeviceState>();
    s->batch = batch;
    const size_t D = cfg_.n_embd;
    uint64_t bytes = 0;
    for (int l = 0; l < cfg_.n_layer; ++l) {
        s->att.push_back(alloc(batch * D * 4, &bytes));
        s->ffn.push_back(alloc(batch * D * 4, &bytes));
        s->wkv.push_back(alloc(batch * wkv_floats_ * 4, &bytes));
    }
    s->bytes = bytes;
    state_bytes_ += bytes;
    note_peak();
    state_reset(s.get());
    return s.release();
}

void Engine::state_reset(DeviceState* s) {
    const size_t D = cfg_.n_embd, B = s->batch;
    auto fill = [&](cl::Buffer& b, size_t n, size_t period, size_t split, float after) {
        launch(k_.fill, cl::NDRange(round_up(n, 64)), cl::NDRange(64), b, to_cl_int(n, "state_reset"),
               static_cast<cl_int>(period), static_cast<cl_int>(split), 0.0f, after);
    };
    const size_t A = cfg_.dim_att;
    for (int l = 0; l < cfg_.n_layer; ++l) {
        fill(s->att[l], B * D, B * D, B * D, 0.0f);
        fill(s->ffn[l], B * D, B * D, B * D, 0.0f);
        if (cfg_.version == 4)  // per stream [aa, bb, pp]; pp starts at -1e30 (RWKV.md §2.2)
            fill(s->wkv[l], B * wkv_floats_, 3 * A, 2 * A, -1e30f);
        else
            fill(s->wkv[l], B * wkv_floats_, B * wkv_floats_, B * wkv_floats_, 0.0f);
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
        queue_.enqueueReadBuffer(s->att[l], CL_FALSE, stream * D * 4, D * 4, o);
        queue_.enqueueReadBuffer(s->wkv[l], CL_FALSE, stream * wkv_floats_ * 4, wkv_floats_ * 4, o + D);
        queue_.enqueueReadBuffer(s->ffn[l], CL_FALSE, stream * D * 4, D * 4, o + D + wkv_floats_);
    }
    queue_.finish();
}

// ---- workspace --------------------------------------------------------------------------------

void Engine::ensure_workspace(int rows) {
    if (rows <= ws_rows_) return;
    ws_.clear();
    ws_bytes_ = static_cast<uint64_t>(logit_rows_) * cfg_.vocab_size * 4;  // the logits buffer stays
    const size_t R = rows, D = cfg_.n_embd, A = cfg_.dim_att, F = cfg_.dim_ffn;
    auto add = [&](const char* name, size_t floats) { ws_[name] = alloc(floats * 4, &ws_bytes_); };
    add("x", R * D);
    for (const char* n : {"m0", "m1", "m2", "m3", "m4", "m5"}) add(n, R * std::max(D, A));
    for (const char* n : {"r", "k", "v", "g", "w", "a", "y"}) add(n, R * A);
    add("o", R * std::max(D, A));  // GroupNorm output, then the channel mix's value
    add("h", R * F);
    add("fr", R * D);
    add("lora", R * lora_max_);
    add("zlast", R * D);  // the last token's z per stream, until it is copied into the state
    if (cfg_.version == 6) {
        add("z", R * D);
        add("dz", R * D);
        add("mm", 5 * R * D);
    }
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

}  // namespace rwkvb::ocl
