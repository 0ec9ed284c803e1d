// The ABI boundary: argument checks, the function table, and the guard that turns every C++
// exception into a status plus one line in last_error. Nothing thrown crosses this file.
#include "device.hpp"
#include "model.hpp"
#include "pool.hpp"

#include <rwkvbench/backend.h>

#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

struct rwkvb_context {
    int threads = 0;       // 0: OpenMP's default
    int matmul_path = 0;   // 0 auto, 1 own kernels, 2 oneDNN (option "matmul=")
    std::unique_ptr<rwkvb::PhaseProfile> profile;  // option "profile=1": printed when the context goes
    std::string error;
    std::unique_ptr<rwkvd::Model> model;
    std::unique_ptr<rwkvd::Runner> runner;
    uint64_t state_bytes = 0, peak = 0;
    void note_peak() {
        uint64_t now = (model ? model->weight_bytes : 0) + state_bytes + (runner ? runner->workspace_bytes() : 0);
        if (now > peak) peak = now;
    }
};

struct rwkvb_state {
    rwkvd::State s;
};

namespace {

thread_local std::string g_error;  // errors without a context

void set_error(rwkvb_context* ctx, const std::string& msg) {
    if (ctx) ctx->error = msg;
    else g_error = msg;
}

// Runs f; maps exceptions to statuses and records the message.
template <class F>
rwkvb_status guard(rwkvb_context* ctx, F&& f) {
    try {
        if (ctx) ctx->error.clear();
        return f();
    } catch (const rwkvd::Error& e) {
        set_error(ctx, std::string("onednn: ") + e.what());
        return e.status;
    } catch (const std::bad_alloc&) {
        set_error(ctx, "onednn: out of host memory");
        return RWKVB_ERR_OUT_OF_MEMORY;
    } catch (const dnnl::error& e) {
        set_error(ctx, std::string("onednn: oneDNN call failed: ") + e.what());
        return RWKVB_ERR_DEVICE;
    } catch (const std::exception& e) {
        set_error(ctx, std::string("onednn: internal error: ") + e.what());
        return RWKVB_ERR_INTERNAL;
    } catch (...) {
        set_error(ctx, "onednn: internal error (unknown exception)");
        return RWKVB_ERR_INTERNAL;
    }
}

rwkvb_status fail(rwkvb_context* ctx, rwkvb_status s, const std::string& msg) {
    set_error(ctx, "onednn: " + msg);
    return s;
}

rwkvb_status device_count(int32_t* count) {
    if (!count) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "device_count: count is NULL");
    *count = rwkvd::cpu_supported() ? 1 : 0;
    if (!*count) g_error = "onednn: this CPU lacks AVX2, FMA or F16C, which the kernels were built for";
    return RWKVB_OK;
}

rwkvb_status device_info(int32_t device, rwkvb_device_info* info) {
    return guard(nullptr, [&] {
        if (!info) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "device_info: info is NULL");
        if (device != 0 || !rwkvd::cpu_supported())
            return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "device " + std::to_string(device) + " does not exist");
        rwkvd::describe_cpu(*info);
        return RWKVB_OK;
    });
}

// "key=value,key=value": threads=N (0 = default), matmul=auto|own|onednn, profile=0|1; other keys
// ignored (the harness passes every plugin cache_dir=..., which this backend does not need).
void parse_options(rwkvb_context& c, const char* options) {
    if (!options) return;
    std::string s(options);
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t end = s.find(',', pos);
        if (end == std::string::npos) end = s.size();
        std::string item = s.substr(pos, end - pos);
        pos = end + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string key = item.substr(0, eq), val = eq == std::string::npos ? "" : item.substr(eq + 1);
        if (key == "threads") {
            char* e = nullptr;
            long n = std::strtol(val.c_str(), &e, 10);
            if (val.empty() || *e || n < 0 || n > 4096)
                throw rwkvd::Error(RWKVB_ERR_INVALID_ARGUMENT,
                                   "option threads='" + val + "': expected a whole number 0..4096");
            c.threads = int(n);
        } else if (key == "matmul") {
            if (val == "auto") c.matmul_path = 0;
            else if (val == "own") c.matmul_path = 1;
            else if (val == "onednn") c.matmul_path = 2;
            else throw rwkvd::Error(RWKVB_ERR_INVALID_ARGUMENT, "option matmul='" + val + "': expected auto, own or onednn");
        } else if (key == "profile") {
            if (val != "0" && val != "1")
                throw rwkvd::Error(RWKVB_ERR_INVALID_ARGUMENT, "option profile='" + val + "': expected 0 or 1");
            c.profile = val == "1" ? std::make_unique<rwkvb::PhaseProfile>("onednn") : nullptr;
        }
    }
}

rwkvb_status create(int32_t device, const char* options, rwkvb_context** out) {
    return guard(nullptr, [&] {
        if (!out) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "create: ctx is NULL");
        *out = nullptr;
        if (device != 0 || !rwkvd::cpu_supported())
            return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "device " + std::to_string(device) + " does not exist");
        rwkvd::default_threads();  // read the process default before any context changes it
        auto c = std::make_unique<rwkvb_context>();
        parse_options(*c, options);
        *out = c.release();
        return RWKVB_OK;
    });
}

void destroy(rwkvb_context* ctx) { delete ctx; }

rwkvb_status load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                  size_t n_tensors, int32_t weight_dtype) {
    if (!ctx) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "load: ctx is NULL");
    return guard(ctx, [&] {
        if (!config || (!tensors && n_tensors))
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "load: config or tensors is NULL");
        rwkvd::WType wt;
        switch (weight_dtype) {
        case RWKVB_F32: wt = rwkvd::WType::F32; break;
        case RWKVB_F16: wt = rwkvd::WType::F16; break;
        case RWKVB_BF16: wt = rwkvd::WType::BF16; break;
        case RWKVB_I8: wt = rwkvd::WType::S8; break;
        default:
            return fail(ctx, RWKVB_ERR_UNSUPPORTED, "weight dtype " + std::to_string(weight_dtype) +
                        " is not offered (f32, f16, bf16, int8)");
        }
        // Load-time conversions run on OpenMP with this context's count (per calling thread).
        omp_set_num_threads(ctx->threads > 0 ? ctx->threads : rwkvd::default_threads());
        ctx->runner.reset();
        ctx->model.reset();
        ctx->model = std::make_unique<rwkvd::Model>(rwkvd::load_model(*config, tensors, n_tensors, wt));
        ctx->runner = std::make_unique<rwkvd::Runner>(*ctx->model);
        ctx->runner->set_threads(ctx->threads);
        ctx->runner->matmul().set_path(ctx->matmul_path);
        ctx->runner->set_profile(ctx->profile.get());
        ctx->note_peak();
        return RWKVB_OK;
    });
}

rwkvb_status state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** out) {
    if (!ctx) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "state_new: ctx is NULL");
    return guard(ctx, [&] {
        if (!out) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_new: state is NULL");
        *out = nullptr;
        if (!ctx->model) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_new: no model loaded");
        if (batch < 1 || batch > 65536)
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_new: batch " + std::to_string(batch) + " (1..65536)");
        auto st = std::make_unique<rwkvb_state>();
        rwkvd::state_init(*ctx->model, st->s, batch);
        ctx->state_bytes += st->s.data.bytes();
        ctx->note_peak();
        *out = st.release();
        return RWKVB_OK;
    });
}

rwkvb_status state_reset(rwkvb_context* ctx, rwkvb_state* state) {
    if (!ctx || !state) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_reset: ctx or state is NULL");
    return guard(ctx, [&] {
        if (!ctx->model) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_reset: no model loaded");
        rwkvd::state_zero(*ctx->model, state->s);
        return RWKVB_OK;
    });
}

void state_free(rwkvb_context* ctx, rwkvb_state* state) {
    if (!state) return;
    if (ctx) ctx->state_bytes -= std::min<uint64_t>(ctx->state_bytes, state->s.data.bytes());
    delete state;
}

rwkvb_status state_export(rwkvb_context* ctx, const rwkvb_state* state, int32_t stream, float* out,
                          size_t* n_floats) {
    if (!ctx || !state || !n_floats)
        return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_export: ctx, state or n_floats is NULL");
    return guard(ctx, [&] {
        if (!ctx->model) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_export: no model loaded");
        if (stream < 0 || stream >= state->s.batch)
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_export: stream " + std::to_string(stream) +
                        " outside batch " + std::to_string(state->s.batch));
        const size_t per = size_t(ctx->model->cfg.n_layer) * size_t(state->s.layer_floats);
        *n_floats = per;
        if (out) std::memcpy(out, state->s.data.data() + size_t(stream) * per, per * sizeof(float));
        return RWKVB_OK;
    });
}

rwkvb_status forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                     int32_t batch, void* logits, int32_t which) {
    if (!ctx) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "forward: ctx is NULL");
    return guard(ctx, [&] {
        if (!ctx->model) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: no model loaded");
        if (!state || !tokens) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: state or tokens is NULL");
        if (n_tokens < 1) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: n_tokens must be ≥ 1");
        if (batch != state->s.batch)
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: batch " + std::to_string(batch) +
                        " differs from the state's batch " + std::to_string(state->s.batch));
        if (which != RWKVB_LOGITS_LAST && which != RWKVB_LOGITS_ALL && which != RWKVB_LOGITS_NONE)
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: which=" + std::to_string(which) + " is unknown");
        if (!logits && which != RWKVB_LOGITS_NONE)
            return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: logits is NULL");
        ctx->runner->forward(state->s, tokens, n_tokens, batch, static_cast<float*>(logits), which);
        ctx->note_peak();
        return RWKVB_OK;
    });
}

rwkvb_status synchronize(rwkvb_context* ctx) {
    if (!ctx) return fail(nullptr, RWKVB_ERR_INVALID_ARGUMENT, "synchronize: ctx is NULL");
    return RWKVB_OK;  // every call is synchronous
}

rwkvb_status memory_usage(rwkvb_context* ctx, rwkvb_memory* usage) {
    if (!ctx || !usage) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "memory_usage: ctx or usage is NULL");
    usage->weights = ctx->model ? ctx->model->weight_bytes : 0;
    usage->state = ctx->state_bytes;
    usage->workspace = ctx->runner ? ctx->runner->workspace_bytes() : 0;
    ctx->note_peak();
    usage->peak = ctx->peak;
    return RWKVB_OK;
}

const char* last_error(const rwkvb_context* ctx) { return ctx ? ctx->error.c_str() : g_error.c_str(); }

const rwkvb_backend kTable = {
    RWKVB_ABI_VERSION, "onednn", "0.1.0",
    device_count, device_info, create, destroy, load,
    state_new, state_reset, state_free, state_export,
    forward, synchronize, memory_usage, last_error,
};

}  // namespace

extern "C" RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    return abi_version == RWKVB_ABI_VERSION ? &kTable : nullptr;
}
