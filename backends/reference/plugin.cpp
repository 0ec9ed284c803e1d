// The ABI boundary of the golden float64 reference: argument checks, options, memory
// accounting and error text. No exception crosses it: every entry point runs inside guarded().
//
// Two dtypes, not to be confused. The checkpoint's storage dtype (each tensor's F64, F32, F16
// or BF16) is read exactly, whatever it is: every value is widened to float64. load()'s
// `weight_dtype` is what a plugin computes with; the golden never rounds a weight to a narrower
// type, so it offers only F32 and F64 (F32: the values of an F32 or narrower checkpoint are
// exact in it). Offering F16/BF16 would let `--dtype f16` runs claim half-precision numbers
// (and half the bytes per token in the roofline) for what is float64 arithmetic.
#include <rwkvbench/backend.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>

#include "model.hpp"
#include "pass.hpp"
#include "thread_pool.hpp"

using namespace rwkvb_ref;

struct rwkvb_context {
    std::string error;
    std::unique_ptr<ThreadPool> pool;
    std::optional<Model> model;
    Scratch scratch;
    uint64_t state_bytes = 0, peak = 0;

    uint64_t total() const {
        return (model ? model->converted_bytes : 0) + state_bytes + scratch.bytes();
    }
    void note_peak() { peak = std::max(peak, total()); }
};

struct rwkvb_state {
    rwkvb_context* owner;
    State s;
};

namespace {

constexpr const char* kName = "reference";
#ifndef RWKVB_REF_SOURCE_HASH
#error "RWKVB_REF_SOURCE_HASH (hash of the reference sources) comes from CMakeLists.txt"
#endif
// The golden cache key includes this: the source hash makes every code change a new version.
constexpr const char* kVersion = "1.0.0+src." RWKVB_REF_SOURCE_HASH;
constexpr uint32_t kWeightDtypes = RWKVB_DTYPE_BIT(RWKVB_F32) | RWKVB_DTYPE_BIT(RWKVB_F64);

thread_local std::string g_error;  // errors without a context (device_info, create)

template <class F>
rwkvb_status guarded(rwkvb_context* ctx, const char* fn, F&& f) {
    std::string& err = ctx ? ctx->error : g_error;
    try {
        f();
        err.clear();
        return RWKVB_OK;
    } catch (const Error& e) {
        err = std::string(fn) + ": " + e.what();
        return e.status;
    } catch (const std::bad_alloc&) {
        err = std::string(fn) + ": out of host memory";
        return RWKVB_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        err = std::string(fn) + ": internal error: " + e.what();
        return RWKVB_ERR_INTERNAL;
    } catch (...) {
        err = std::string(fn) + ": internal error (unknown exception)";
        return RWKVB_ERR_INTERNAL;
    }
}

void fail(rwkvb_status s, const std::string& msg) { throw Error(s, msg); }

int default_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

// "threads=N" from "key=value,key=value"; unknown keys are ignored (backend.h).
int parse_threads(const char* options) {
    if (!options) return default_threads();
    std::string s(options);
    size_t pos = 0;
    while (pos <= s.size()) {
        const size_t end = std::min(s.find(',', pos), s.size());
        const std::string item = s.substr(pos, end - pos);
        if (item.rfind("threads=", 0) == 0) {
            const std::string v = item.substr(8);
            char* stop = nullptr;
            const long n = std::strtol(v.c_str(), &stop, 10);
            if (v.empty() || *stop != '\0' || n < 0 || n > 1024)
                fail(RWKVB_ERR_INVALID_ARGUMENT, "option threads='" + v + "' is not a number in 0..1024");
            return n == 0 ? default_threads() : static_cast<int>(n);
        }
        pos = end + 1;
    }
    return default_threads();
}

void copy_name(char* dst, size_t cap, const std::string& src) { std::snprintf(dst, cap, "%s", src.c_str()); }

std::string cpu_model() {
    if (FILE* f = std::fopen("/proc/cpuinfo", "r")) {
        char line[512];
        while (std::fgets(line, sizeof line, f))
            if (std::strncmp(line, "model name", 10) == 0)
                if (const char* c = std::strchr(line, ':')) {
                    std::string s(c + 1);
                    while (!s.empty() && (s.front() == ' ')) s.erase(s.begin());
                    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
                    std::fclose(f);
                    return s;
                }
        std::fclose(f);
    }
    return "unknown CPU";
}

rwkvb_status device_count(int32_t* count) {
    return guarded(nullptr, "device_count", [&] {
        if (!count) fail(RWKVB_ERR_INVALID_ARGUMENT, "count is NULL");
        *count = 1;
    });
}

rwkvb_status device_info(int32_t device, rwkvb_device_info* info) {
    return guarded(nullptr, "device_info", [&] {
        if (!info) fail(RWKVB_ERR_INVALID_ARGUMENT, "info is NULL");
        if (device != 0) fail(RWKVB_ERR_INVALID_ARGUMENT, "device " + std::to_string(device) + " does not exist (only 0)");
        *info = rwkvb_device_info{};
        copy_name(info->name, sizeof info->name, "golden float64 reference (CPU)");
        copy_name(info->vendor, sizeof info->vendor, "rwkvbench");
        copy_name(info->driver_version, sizeof info->driver_version, kVersion);
        copy_name(info->description, sizeof info->description,
                  cpu_model() + "; float64 arithmetic on the checkpoint's exact weights, std::thread pool");
        const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        info->memory_bytes = pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
        info->compute_units = default_threads();
        info->weight_dtypes = kWeightDtypes;
        info->compute_dtypes = RWKVB_DTYPE_BIT(RWKVB_F64);
        info->logits_dtype = RWKVB_F64;
    });
}

rwkvb_status create(int32_t device, const char* options, rwkvb_context** out) {
    return guarded(nullptr, "create", [&] {
        if (!out) fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL");
        *out = nullptr;
        if (device != 0) fail(RWKVB_ERR_INVALID_ARGUMENT, "device " + std::to_string(device) + " does not exist (only 0)");
        auto ctx = std::make_unique<rwkvb_context>();
        ctx->pool = std::make_unique<ThreadPool>(parse_threads(options));
        *out = ctx.release();
    });
}

void destroy(rwkvb_context* ctx) { delete ctx; }

rwkvb_status load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                  size_t n_tensors, int32_t weight_dtype) {
    if (!ctx) return guarded(nullptr, "load", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "load", [&] {
        if (!config) fail(RWKVB_ERR_INVALID_ARGUMENT, "config is NULL");
        if (weight_dtype < 0 || weight_dtype >= RWKVB_DTYPE_COUNT ||
            !(kWeightDtypes & RWKVB_DTYPE_BIT(weight_dtype)))
            fail(RWKVB_ERR_UNSUPPORTED, "weight dtype " + std::to_string(weight_dtype) +
                                            " is not offered: the golden computes in float64 and offers f32 and f64 weights "
                                            "(it reads f16/bf16 checkpoints exactly with either)");
        if (ctx->state_bytes > 0) fail(RWKVB_ERR_INVALID_ARGUMENT, "free every state before loading another model");
        ctx->model.reset();
        ctx->model.emplace(build_model(*config, tensors, n_tensors));
        ctx->note_peak();
    });
}

rwkvb_status state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** out) {
    if (!ctx) return guarded(nullptr, "state_new", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "state_new", [&] {
        if (!out) fail(RWKVB_ERR_INVALID_ARGUMENT, "state is NULL");
        *out = nullptr;
        if (!ctx->model) fail(RWKVB_ERR_INVALID_ARGUMENT, "no model loaded (call load first)");
        if (batch < 1 || batch > 65536) fail(RWKVB_ERR_INVALID_ARGUMENT, "batch " + std::to_string(batch) + " is not in 1..65536");
        auto st = std::make_unique<rwkvb_state>(rwkvb_state{ctx, make_state(ctx->model->cfg, batch)});
        ctx->state_bytes += st->s.data.size() * sizeof(double);
        ctx->note_peak();
        *out = st.release();
    });
}

void check_state(rwkvb_context* ctx, const rwkvb_state* state) {
    if (!state) fail(RWKVB_ERR_INVALID_ARGUMENT, "state is NULL");
    if (state->owner != ctx) fail(RWKVB_ERR_INVALID_ARGUMENT, "state belongs to another context");
}

rwkvb_status state_reset(rwkvb_context* ctx, rwkvb_state* state) {
    if (!ctx) return guarded(nullptr, "state_reset", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "state_reset", [&] {
        check_state(ctx, state);
        state->s.reset();
    });
}

void state_free(rwkvb_context* ctx, rwkvb_state* state) {
    if (!state || !ctx || state->owner != ctx) return;
    ctx->state_bytes -= std::min<uint64_t>(ctx->state_bytes, state->s.data.size() * sizeof(double));
    delete state;
}

rwkvb_status state_export(rwkvb_context* ctx, const rwkvb_state* state, int32_t stream, float* out,
                          size_t* n_floats) {
    if (!ctx) return guarded(nullptr, "state_export", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "state_export", [&] {
        check_state(ctx, state);
        if (!n_floats) fail(RWKVB_ERR_INVALID_ARGUMENT, "n_floats is NULL");
        if (stream < 0 || stream >= state->s.batch)
            fail(RWKVB_ERR_INVALID_ARGUMENT, "stream " + std::to_string(stream) + " is not in 0.." +
                                                 std::to_string(state->s.batch - 1));
        // Our float64 layout is already the canonical order: only the element type changes.
        const size_t n = static_cast<size_t>(state->s.n_layer * state->s.per_layer());
        *n_floats = n;
        if (!out) return;
        const double* src = state->s.layer(stream, 0);
        for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(src[i]);
    });
}

rwkvb_status forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                     int32_t batch, void* logits, int32_t which) {
    if (!ctx) return guarded(nullptr, "forward", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "forward", [&] {
        check_state(ctx, state);
        if (!ctx->model) fail(RWKVB_ERR_INVALID_ARGUMENT, "no model loaded (call load first)");
        const Model& m = *ctx->model;
        if (n_tokens < 1) fail(RWKVB_ERR_INVALID_ARGUMENT, "n_tokens " + std::to_string(n_tokens) + " must be at least 1");
        if (batch != state->s.batch)
            fail(RWKVB_ERR_INVALID_ARGUMENT, "batch " + std::to_string(batch) + " differs from the state's batch " +
                                                 std::to_string(state->s.batch));
        if (which != RWKVB_LOGITS_LAST && which != RWKVB_LOGITS_ALL && which != RWKVB_LOGITS_NONE)
            fail(RWKVB_ERR_INVALID_ARGUMENT, "which = " + std::to_string(which) + " is not LAST, ALL or NONE");
        if (!tokens) fail(RWKVB_ERR_INVALID_ARGUMENT, "tokens is NULL");
        if (which != RWKVB_LOGITS_NONE && !logits) fail(RWKVB_ERR_INVALID_ARGUMENT, "logits is NULL");
        const int64_t R = static_cast<int64_t>(batch) * n_tokens;
        for (int64_t i = 0; i < R; ++i)
            if (tokens[i] < 0 || tokens[i] >= m.cfg.vocab_size)
                fail(RWKVB_ERR_INVALID_ARGUMENT, "token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                                     " is outside the vocabulary 0.." + std::to_string(m.cfg.vocab_size - 1));
        Pass P{m, *ctx->pool, ctx->scratch, state->s, batch, n_tokens};
        rwkvb_ref::forward(P, tokens, static_cast<double*>(logits), which);
        ctx->note_peak();
    });
}

rwkvb_status synchronize(rwkvb_context* ctx) {
    if (!ctx) return guarded(nullptr, "synchronize", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    ctx->error.clear();
    return RWKVB_OK;  // every call finishes before it returns
}

rwkvb_status memory_usage(rwkvb_context* ctx, rwkvb_memory* usage) {
    if (!ctx) return guarded(nullptr, "memory_usage", [] { fail(RWKVB_ERR_INVALID_ARGUMENT, "ctx is NULL"); });
    return guarded(ctx, "memory_usage", [&] {
        if (!usage) fail(RWKVB_ERR_INVALID_ARGUMENT, "usage is NULL");
        usage->weights = ctx->model ? ctx->model->converted_bytes : 0;  // matrices are read in place
        usage->state = ctx->state_bytes;
        usage->workspace = ctx->scratch.bytes();
        ctx->note_peak();
        usage->peak = ctx->peak;
    });
}

const char* last_error(const rwkvb_context* ctx) { return ctx ? ctx->error.c_str() : g_error.c_str(); }

const rwkvb_backend kTable = {
    RWKVB_ABI_VERSION, kName, kVersion, device_count, device_info, create, destroy, load, state_new,
    state_reset, state_free, state_export, forward, synchronize, memory_usage, last_error,
};

}  // namespace

extern "C" RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    return abi_version == RWKVB_ABI_VERSION ? &kTable : nullptr;
}
