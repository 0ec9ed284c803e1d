// The ABI table of the OpenCL backend. Every entry point catches everything: OpenCL errors
// (cl::Error) become one line naming the call and the error, our own errors keep their status.
#include "engine.hpp"

#include <rwkvbench/backend.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>

struct rwkvb_context {
    std::unique_ptr<rwkvb::ocl::Engine> engine;
    std::string error;
};
struct rwkvb_state {
    rwkvb::ocl::DeviceState* s = nullptr;
};

namespace {

using namespace rwkvb::ocl;

std::mutex g_error_mutex;
std::string g_error;  // errors of calls without a context

void set_error(rwkvb_context* ctx, const std::string& msg) {
    if (ctx) {
        ctx->error = msg;
    } else {
        std::lock_guard<std::mutex> lock(g_error_mutex);
        g_error = msg;
    }
}

// Calls without a context start by clearing the context-less error, so last_error(NULL) never
// shows an earlier call's message.
void clear_global_error() { set_error(nullptr, ""); }

// A context call given NULL: the error goes where last_error(NULL) finds it.
rwkvb_status no_context(const char* what) {
    set_error(nullptr, std::string(what) + ": NULL context");
    return RWKVB_ERR_INVALID_ARGUMENT;
}

rwkvb_status status_of_cl(cl_int err) {
    switch (err) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
    case CL_INVALID_BUFFER_SIZE: return RWKVB_ERR_OUT_OF_MEMORY;
    default: return RWKVB_ERR_DEVICE;
    }
}

// Runs f, turning every exception into a status and a one-line error.
template <class F>
rwkvb_status guarded(rwkvb_context* ctx, const char* what, F&& f) {
    try {
        f();
        return RWKVB_OK;
    } catch (const PluginError& e) {
        set_error(ctx, e.what());
        return static_cast<rwkvb_status>(e.status);
    } catch (const cl::Error& e) {
        set_error(ctx, std::string(what) + ": " + describe(e));
        return status_of_cl(e.err());
    } catch (const std::bad_alloc&) {
        set_error(ctx, std::string(what) + ": out of host memory");
        return RWKVB_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_error(ctx, std::string(what) + ": " + e.what());
        return RWKVB_ERR_INTERNAL;
    } catch (...) {
        set_error(ctx, std::string(what) + ": unknown exception");
        return RWKVB_ERR_INTERNAL;
    }
}

rwkvb_status device_count(int32_t* count) {
    clear_global_error();
    if (!count) {
        set_error(nullptr, "device_count: NULL pointer");
        return RWKVB_ERR_INVALID_ARGUMENT;
    }
    *count = 0;
    return guarded(nullptr, "device_count", [&] {
        const DeviceList& list = device_list();
        *count = static_cast<int32_t>(list.devices.size());
        if (list.devices.empty()) set_error(nullptr, list.error);
    });
}

const DeviceEntry& device_at(int32_t device) {
    const DeviceList& list = device_list();
    if (device < 0 || static_cast<size_t>(device) >= list.devices.size())
        throw PluginError(RWKVB_ERR_INVALID_ARGUMENT,
                          "no device opencl:" + std::to_string(device) + " (there are " +
                              std::to_string(list.devices.size()) + " OpenCL devices" +
                              (list.devices.empty() ? ": " + list.error : std::string()) + ")");
    return list.devices[device];
}

rwkvb_status device_info(int32_t device, rwkvb_device_info* info) {
    clear_global_error();
    return guarded(nullptr, "device_info", [&] {
        if (!info) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "device_info: NULL pointer");
        fill_device_info(device_facts(device_at(device)), info);
    });
}

rwkvb_status create(int32_t device, const char* options, rwkvb_context** out) {
    clear_global_error();
    return guarded(nullptr, "create", [&] {
        if (!out) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "create: NULL context pointer");
        *out = nullptr;
        const Options opt = parse_options(options);
        auto ctx = std::make_unique<rwkvb_context>();
        ctx->engine = std::make_unique<Engine>(device_at(device), opt);
        *out = ctx.release();
    });
}

void destroy(rwkvb_context* ctx) {
    if (!ctx) return;
    try {
        ctx->engine->synchronize();
    } catch (...) {
        // The device failed earlier; release what we can.
    }
    try {
        delete ctx;
    } catch (...) {
    }
}

rwkvb_status load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors, size_t n,
                  int32_t weight_dtype) {
    if (!ctx) return no_context("load");
    return guarded(ctx, "load", [&] {
        if (!config) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "load: NULL config");
        ctx->engine->load(*config, tensors, n, weight_dtype);
    });
}

rwkvb_status state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** out) {
    if (!ctx) return no_context("state_new");
    return guarded(ctx, "state_new", [&] {
        if (!out) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "state_new: NULL state pointer");
        *out = nullptr;
        auto st = std::make_unique<rwkvb_state>();
        st->s = ctx->engine->state_new(batch);
        *out = st.release();
    });
}

rwkvb_status state_reset(rwkvb_context* ctx, rwkvb_state* state) {
    if (!ctx) return no_context("state_reset");
    return guarded(ctx, "state_reset", [&] {
        if (!state) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "state_reset: NULL state");
        ctx->engine->state_reset(state->s);
    });
}

void state_free(rwkvb_context* ctx, rwkvb_state* state) {
    if (!ctx || !state) return;
    try {
        ctx->engine->state_free(state->s);
    } catch (...) {
    }
    delete state;
}

rwkvb_status state_export(rwkvb_context* ctx, const rwkvb_state* state, int32_t stream, float* out,
                          size_t* n_floats) {
    if (!ctx) return no_context("state_export");
    return guarded(ctx, "state_export", [&] {
        if (!state || !n_floats) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "state_export: NULL argument");
        ctx->engine->state_export(state->s, stream, out, n_floats);
    });
}

rwkvb_status forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens, int32_t batch,
                     void* logits, int32_t which) {
    if (!ctx) return no_context("forward");
    return guarded(ctx, "forward", [&] {
        if (!state) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "forward: NULL state");
        ctx->engine->forward(state->s, tokens, n_tokens, batch, static_cast<float*>(logits), which);
    });
}

rwkvb_status synchronize(rwkvb_context* ctx) {
    if (!ctx) return no_context("synchronize");
    return guarded(ctx, "synchronize", [&] { ctx->engine->synchronize(); });
}

rwkvb_status memory_usage(rwkvb_context* ctx, rwkvb_memory* usage) {
    if (!ctx) return no_context("memory_usage");
    return guarded(ctx, "memory_usage", [&] {
        if (!usage) throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "memory_usage: NULL pointer");
        *usage = ctx->engine->memory();
    });
}

const char* last_error(const rwkvb_context* ctx) {
    if (ctx) return ctx->error.c_str();
    std::lock_guard<std::mutex> lock(g_error_mutex);
    return g_error.c_str();  // stable until the next context-less error
}

const rwkvb_backend k_table = {
    RWKVB_ABI_VERSION, "opencl", "0.2.0", device_count, device_info, create, destroy, load, state_new,
    state_reset, state_free, state_export, forward, synchronize, memory_usage, last_error,
};

}  // namespace

extern "C" RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    return abi_version == RWKVB_ABI_VERSION ? &k_table : nullptr;
}
