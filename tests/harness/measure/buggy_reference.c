/* Test plugin "buggy": the reference plugin, with one path of computing logits made wrong, so a
   parity cell must catch a backend whose sequential decode is right but whose sequence mode or
   batch is not. create()'s options choose the bug: "bug=sequence" (LOGITS_ALL rows of a
   multi-token forward shifted) or "bug=batch" (stream 1 of a batch shifted); none = correct.
   Everything else is the reference's own table, loaded from RWKVB_REFERENCE_PLUGIN. */
#include <rwkvbench/backend.h>

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

enum { BUG_NONE, BUG_SEQUENCE, BUG_BATCH, BUG_CREATE, BUG_FORWARD };

static const rwkvb_backend* ref;
static rwkvb_backend table;
static int bug = BUG_NONE;
static int32_t logits_dtype = RWKVB_F32;
static int32_t vocab;
static const char* own_error = "";

static void shift(void* logits, size_t first, size_t count) {
    for (size_t i = first; i < first + count; ++i) {
        if (logits_dtype == RWKVB_F64) ((double*)logits)[i] += 1.0 + (double)(i % 7);
        else ((float*)logits)[i] += 1.0f + (float)(i % 7);
    }
}

static rwkvb_status buggy_create(int32_t device, const char* options, rwkvb_context** ctx) {
    static const struct {
        const char* option;
        int bug;
    } bugs[] = {{"bug=sequence", BUG_SEQUENCE}, {"bug=batch", BUG_BATCH}, {"bug=create", BUG_CREATE},
                {"bug=forward", BUG_FORWARD}};
    bug = BUG_NONE;
    for (size_t i = 0; i < sizeof bugs / sizeof bugs[0]; ++i)
        if (options && strstr(options, bugs[i].option)) bug = bugs[i].bug;
    own_error = "";
    if (bug == BUG_CREATE) {
        own_error = "simulated: no context for you";
        return RWKVB_ERR_DEVICE;
    }
    rwkvb_device_info info;
    rwkvb_status s = ref->device_info(device, &info);
    if (s != RWKVB_OK) return s;
    logits_dtype = info.logits_dtype;
    return ref->create(device, options, ctx);  /* plugins ignore keys they do not know */
}

static rwkvb_status buggy_load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                               size_t n, int32_t dtype) {
    vocab = config->vocab_size;
    return ref->load(ctx, config, tensors, n, dtype);
}

static rwkvb_status buggy_forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                                  int32_t batch, void* logits, int32_t which) {
    if (bug == BUG_FORWARD) {
        own_error = "simulated device loss: load failed (the wording must not matter)";
        return RWKVB_ERR_DEVICE;
    }
    rwkvb_status s = ref->forward(ctx, state, tokens, n_tokens, batch, logits, which);
    if (s != RWKVB_OK || !logits || which == RWKVB_LOGITS_NONE) return s;
    const size_t rows = which == RWKVB_LOGITS_ALL ? (size_t)n_tokens : 1;
    if (bug == BUG_SEQUENCE && n_tokens > 1 && which == RWKVB_LOGITS_ALL) shift(logits, 0, (size_t)batch * rows * vocab);
    if (bug == BUG_BATCH && batch > 1) shift(logits, rows * vocab, rows * vocab);
    return s;
}

static const char* buggy_last_error(const rwkvb_context* ctx) { return *own_error ? own_error : ref->last_error(ctx); }

RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    if (!ref) {
        void* h = dlopen(RWKVB_REFERENCE_PLUGIN, RTLD_NOW | RTLD_LOCAL);
        rwkvb_backend_entry_fn entry = h ? (rwkvb_backend_entry_fn)dlsym(h, RWKVB_ENTRY_SYMBOL) : NULL;
        ref = entry ? entry(abi_version) : NULL;
        if (!ref) return NULL;
        table = *ref;
        table.name = "buggy";
        table.create = buggy_create;
        table.load = buggy_load;
        table.forward = buggy_forward;
        table.last_error = buggy_last_error;
    }
    return &table;
}
