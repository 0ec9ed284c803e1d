/* Computes one stream and copies it: for batch > 1, only stream 0 runs (through a batch-1
 * reference state of its own) and its logits are copied to every other stream, whose tokens are
 * ignored and whose state never advances. Batch 1 is honest. A batch parity check that feeds
 * every stream the same tokens cannot tell. */
#include "liar.h"

#include <stdlib.h>
#include <string.h>

/* The state the harness holds: the batch it asked for, and the only real state behind it (the
   reference's own opaque state, batch 1), which is all this liar ever advances. */
struct rwkvb_state {
    int32_t batch;
    rwkvb_state* stream0;
};

/* The logits row length and element size, taken at load(): a worker loads one model. */
static int32_t loaded_vocab;
static size_t logits_element_size;

static rwkvb_status clone_load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                               size_t n_tensors, int32_t weight_dtype) {
    const rwkvb_status s = liar_reference()->load(ctx, config, tensors, n_tensors, weight_dtype);
    if (s != RWKVB_OK) return s;
    rwkvb_device_info info;
    if (liar_reference()->device_info(0, &info) != RWKVB_OK)
        return liar_fail(RWKVB_ERR_INTERNAL, "the reference did not describe its device");
    loaded_vocab = config->vocab_size;
    logits_element_size = info.logits_dtype == RWKVB_F64 ? sizeof(double) : sizeof(float);
    return RWKVB_OK;
}

static rwkvb_status clone_state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** out) {
    /* Out-of-range batches get the reference's own refusal. */
    if (!out || batch < 1 || batch > 65536) return liar_reference()->state_new(ctx, batch, out);
    rwkvb_state* s = calloc(1, sizeof *s);
    if (!s) return liar_fail(RWKVB_ERR_OUT_OF_MEMORY, "calloc failed");
    const rwkvb_status status = liar_reference()->state_new(ctx, 1, &s->stream0);
    if (status != RWKVB_OK) {
        free(s);
        return status;
    }
    s->batch = batch;
    *out = s;
    return RWKVB_OK;
}

static rwkvb_status clone_state_reset(rwkvb_context* ctx, rwkvb_state* state) {
    return liar_reference()->state_reset(ctx, state ? state->stream0 : NULL);
}

static void clone_state_free(rwkvb_context* ctx, rwkvb_state* state) {
    if (!state) return;
    liar_reference()->state_free(ctx, state->stream0);
    free(state);
}

/* Every stream in range exports stream 0: the copies are all the lie has. */
static rwkvb_status clone_state_export(rwkvb_context* ctx, const rwkvb_state* state, int32_t stream, float* out,
                                       size_t* n_floats) {
    if (!state) return liar_reference()->state_export(ctx, NULL, stream, out, n_floats);
    if (stream < 0 || stream >= state->batch) return liar_fail(RWKVB_ERR_INVALID_ARGUMENT, "no such stream");
    return liar_reference()->state_export(ctx, state->stream0, 0, out, n_floats);
}

static rwkvb_status clone_forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                                  int32_t batch, void* logits, int32_t which) {
    if (!state) return liar_reference()->forward(ctx, NULL, tokens, n_tokens, batch, logits, which);
    if (batch != state->batch) return liar_fail(RWKVB_ERR_INVALID_ARGUMENT, "batch differs from the state's batch");
    /* Stream 0's tokens are the first n_tokens: it alone is computed, into the first rows. */
    const rwkvb_status s = liar_reference()->forward(ctx, state->stream0, tokens, n_tokens, 1, logits, which);
    if (s != RWKVB_OK || batch == 1 || which == RWKVB_LOGITS_NONE) return s;
    const size_t rows = which == RWKVB_LOGITS_ALL ? (size_t)n_tokens : 1;
    const size_t stream_bytes = rows * (size_t)loaded_vocab * logits_element_size;
    for (int32_t b = 1; b < batch; ++b) memcpy((char*)logits + (size_t)b * stream_bytes, logits, stream_bytes);
    return RWKVB_OK;
}

static void install(rwkvb_backend* table) {
    table->load = clone_load;
    table->state_new = clone_state_new;
    table->state_reset = clone_state_reset;
    table->state_free = clone_state_free;
    table->state_export = clone_state_export;
    table->forward = clone_forward;
}

const liar_spec LIAR = {.name = "liar_batchclone", .install = install};
