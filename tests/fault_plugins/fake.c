#include "fake.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rwkvb_context {
    uint64_t weight_bytes;
    int32_t vocab;
    uint64_t state_bytes;
};

struct rwkvb_state {
    int32_t batch;
};

static char last_error_text[256];

static rwkvb_status fail(rwkvb_status s, const char* what) {
    snprintf(last_error_text, sizeof last_error_text, "%s: %s", FAKE_BEHAVIOUR.name, what);
    return s;
}

static rwkvb_status fake_device_count(int32_t* count) {
    if (FAKE_BEHAVIOUR.in_device_count) FAKE_BEHAVIOUR.in_device_count();
    if (!count) return fail(RWKVB_ERR_INVALID_ARGUMENT, "count is NULL");
    *count = FAKE_BEHAVIOUR.device_count ? FAKE_BEHAVIOUR.device_count : 1;
    return RWKVB_OK;
}

static rwkvb_status fake_device_info(int32_t device, rwkvb_device_info* info) {
    if (!info || device != 0) return fail(RWKVB_ERR_INVALID_ARGUMENT, "no such device");
    memset(info, 0, sizeof *info);
    if (FAKE_BEHAVIOUR.device_text) snprintf(info->name, sizeof info->name, "%s", FAKE_BEHAVIOUR.device_text);
    else snprintf(info->name, sizeof info->name, "fake device (%s)", FAKE_BEHAVIOUR.name);
    snprintf(info->vendor, sizeof info->vendor, "rwkvbench tests");
    snprintf(info->driver_version, sizeof info->driver_version, "0");
    snprintf(info->description, sizeof info->description, "%s",
             FAKE_BEHAVIOUR.device_text ? FAKE_BEHAVIOUR.device_text : "test-only fake backend; computes nothing");
    info->memory_bytes = (uint64_t)1 << 30;
    info->compute_units = 1;
    info->weight_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info->compute_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info->logits_dtype = RWKVB_F32;
    return RWKVB_OK;
}

static rwkvb_status fake_create(int32_t device, const char* options, rwkvb_context** ctx) {
    (void)options;
    if (!ctx || device != 0) return fail(RWKVB_ERR_INVALID_ARGUMENT, "bad device or NULL ctx");
    *ctx = calloc(1, sizeof **ctx);
    return *ctx ? RWKVB_OK : fail(RWKVB_ERR_OUT_OF_MEMORY, "calloc failed");
}

static void fake_destroy(rwkvb_context* ctx) { free(ctx); }

static rwkvb_status fake_load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                              size_t n, int32_t weight_dtype) {
    if (FAKE_BEHAVIOUR.in_load) {
        const char* refusal = FAKE_BEHAVIOUR.in_load();
        if (refusal) return fail(RWKVB_ERR_UNSUPPORTED, refusal);
    }
    if (!ctx || !config || (n && !tensors)) return fail(RWKVB_ERR_INVALID_ARGUMENT, "NULL argument");
    if (weight_dtype != RWKVB_F32) return fail(RWKVB_ERR_UNSUPPORTED, "only f32 weights");
    if (config->vocab_size <= 0) return fail(RWKVB_ERR_INVALID_ARGUMENT, "vocab_size must be positive");
    ctx->vocab = config->vocab_size;
    ctx->weight_bytes = 0;
    for (size_t i = 0; i < n; ++i) ctx->weight_bytes += tensors[i].nbytes;
    return RWKVB_OK;
}

static rwkvb_status fake_state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** state) {
    if (!ctx || !state || batch <= 0) return fail(RWKVB_ERR_INVALID_ARGUMENT, "bad state_new arguments");
    *state = calloc(1, sizeof **state);
    if (!*state) return fail(RWKVB_ERR_OUT_OF_MEMORY, "calloc failed");
    (*state)->batch = batch;
    ctx->state_bytes += sizeof **state;
    return RWKVB_OK;
}

static rwkvb_status fake_state_reset(rwkvb_context* ctx, rwkvb_state* state) {
    return (ctx && state) ? RWKVB_OK : fail(RWKVB_ERR_INVALID_ARGUMENT, "NULL state");
}

static void fake_state_free(rwkvb_context* ctx, rwkvb_state* state) {
    if (ctx && state) ctx->state_bytes -= sizeof *state;
    free(state);
}

/* Deterministic numbers with the spread of real logits, unrelated to the model. */
static float wrong_value(int32_t token, size_t i) { return 3.0f * sinf(0.37f * (float)i + 1.3f * (float)token); }

static rwkvb_status fake_forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                                 int32_t batch, void* logits, int32_t which) {
    if (FAKE_BEHAVIOUR.in_forward) FAKE_BEHAVIOUR.in_forward();
    if (FAKE_BEHAVIOUR.noop_forward) return RWKVB_OK;
    if (!ctx || !state || !tokens || n_tokens <= 0 || batch != state->batch)
        return fail(RWKVB_ERR_INVALID_ARGUMENT, "bad forward arguments");
    const size_t rows = which == RWKVB_LOGITS_ALL ? (size_t)n_tokens : which == RWKVB_LOGITS_LAST ? 1 : 0;
    if (rows && !logits) return fail(RWKVB_ERR_INVALID_ARGUMENT, "logits is NULL");
    float* out = (float*)logits;
    for (int32_t b = 0; b < batch; ++b)
        for (size_t r = 0; r < rows; ++r) {
            const int32_t tok = tokens[(size_t)b * n_tokens + (rows == 1 ? (size_t)n_tokens - 1 : r)];
            float* row = out + ((size_t)b * rows + r) * (size_t)ctx->vocab;
            for (size_t i = 0; i < (size_t)ctx->vocab; ++i) row[i] = FAKE_BEHAVIOUR.wrong_logits ? wrong_value(tok, i) : 0.0f;
        }
    return RWKVB_OK;
}

static rwkvb_status fake_synchronize(rwkvb_context* ctx) {
    return ctx ? RWKVB_OK : fail(RWKVB_ERR_INVALID_ARGUMENT, "NULL ctx");
}

static rwkvb_status fake_memory_usage(rwkvb_context* ctx, rwkvb_memory* usage) {
    if (!ctx || !usage) return fail(RWKVB_ERR_INVALID_ARGUMENT, "NULL argument");
    if (FAKE_BEHAVIOUR.memory_report) {
        usage->weights = usage->state = usage->workspace = usage->peak = FAKE_BEHAVIOUR.memory_report;
        return RWKVB_OK;
    }
    usage->weights = ctx->weight_bytes;
    usage->state = ctx->state_bytes;
    usage->workspace = 0;
    usage->peak = ctx->weight_bytes + ctx->state_bytes;
    return RWKVB_OK;
}

static const char* fake_last_error(const rwkvb_context* ctx) {
    (void)ctx;
    return last_error_text;
}

static rwkvb_backend fake_table = {
    RWKVB_ABI_VERSION, NULL, "0.1-test", fake_device_count, fake_device_info, fake_create, fake_destroy,
    fake_load, fake_state_new, fake_state_reset, fake_state_free, NULL, fake_forward, fake_synchronize,
    fake_memory_usage, fake_last_error,
};

RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    if (FAKE_BEHAVIOUR.entry_returns_null) return NULL;
    fake_table.name = FAKE_BEHAVIOUR.name;
    if (FAKE_BEHAVIOUR.table_abi) {
        fake_table.abi_version = FAKE_BEHAVIOUR.table_abi;
        return &fake_table;
    }
    return abi_version == RWKVB_ABI_VERSION ? &fake_table : NULL;
}
