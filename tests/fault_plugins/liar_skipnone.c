/* Skips work nobody looks at: forward(..., RWKVB_LOGITS_NONE) returns OK at once, so a prompt
 * fed without logits never reaches the state. LAST and ALL are honest (from the state it has),
 * which is what makes prefill, decode and long cells look fast and still plausible. */
#include "liar.h"

static rwkvb_status skipnone_forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens,
                                     int32_t n_tokens, int32_t batch, void* logits, int32_t which) {
    if (which == RWKVB_LOGITS_NONE) return RWKVB_OK;
    return liar_reference()->forward(ctx, state, tokens, n_tokens, batch, logits, which);
}

static void install(rwkvb_backend* table) { table->forward = skipnone_forward; }

const liar_spec LIAR = {.name = "liar_skipnone", .install = install};
