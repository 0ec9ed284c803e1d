/*
 * The template backend: the smallest correct rwkvbench plugin, for a chip maker to copy.
 *
 * It runs RWKV-7 (the default workload) with plain float32 loops on the host CPU, one token at a
 * time. Replace the loops in forward_token() with calls into your device and keep the rest: the
 * ABI boundary (status codes, last_error, no crash on bad input) is what the harness checks.
 * Written in C99 on purpose: the ABI needs nothing else.
 *
 * Build out of tree:  find_package(rwkvbench_plugin_sdk) + target_link_libraries(... rwkvbench::plugin_sdk)
 */
#include <rwkvbench/backend.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------------ */

static char g_error[512]; /* errors of calls without a context (device_info, create) */

struct rwkvb_context {
    char error[512];
    rwkvb_status status; /* of the last failure, so load() can return it */
    rwkvb_model_config cfg;
    /* Per layer, the tensors forward needs (F32, official layout; owned by the harness). */
    struct layer {
        const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
        const float *x_r, *x_w, *x_k, *x_v, *x_a, *x_g;
        const float *w0, *w1, *w2, *a0, *a1, *a2, *v0, *v1, *v2, *g1, *g2;
        const float *k_k, *k_a, *r_k;
        const float *wr, *wk, *wv, *wo, *lnx_w, *lnx_b;
        const float *ffn_x_k, *ffn_wk, *ffn_wv;
    } * layers;
    const float *emb, *ln0_w, *ln0_b, *ln_out_w, *ln_out_b, *head;
    float* work; /* scratch vectors, see forward_token() */
    size_t work_floats;
    size_t state_bytes_live;
};

struct rwkvb_state {
    int32_t batch;
    float* data; /* batch × L × (att_x D, S H×N×N [h][value][key], ffn_x D) */
};

static rwkvb_status fail(rwkvb_context* ctx, rwkvb_status status, const char* fmt, ...) {
    va_list ap;
    if (ctx) ctx->status = status;
    va_start(ap, fmt);
    vsnprintf(ctx ? ctx->error : g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return status;
}

static const char* last_error(const rwkvb_context* ctx) { return ctx ? ctx->error : g_error; }

/* ---- devices ----------------------------------------------------------------------------- */

static rwkvb_status device_count(int32_t* count) {
    if (!count) return fail(NULL, RWKVB_ERR_INVALID_ARGUMENT, "device_count: NULL pointer");
    *count = 1;
    return RWKVB_OK;
}

static rwkvb_status device_info(int32_t device, rwkvb_device_info* info) {
    if (!info || device != 0) return fail(NULL, RWKVB_ERR_INVALID_ARGUMENT, "template: no device %d", device);
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "host CPU (template, scalar float32)");
    snprintf(info->vendor, sizeof info->vendor, "rwkvbench");
    snprintf(info->driver_version, sizeof info->driver_version, "none");
    snprintf(info->description, sizeof info->description,
             "example plugin: RWKV-7 only, single-threaded plain loops; copy it to start a backend");
    info->memory_bytes = 0; /* host memory: not accounted separately */
    info->compute_units = 1;
    info->weight_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info->compute_dtypes = RWKVB_DTYPE_BIT(RWKVB_F32);
    info->logits_dtype = RWKVB_F32;
    return RWKVB_OK;
}

static rwkvb_status create(int32_t device, const char* options, rwkvb_context** out) {
    (void)options;
    if (!out) return fail(NULL, RWKVB_ERR_INVALID_ARGUMENT, "create: NULL output pointer");
    if (device != 0) return fail(NULL, RWKVB_ERR_INVALID_ARGUMENT, "template: no device %d", device);
    *out = calloc(1, sizeof **out);
    return *out ? RWKVB_OK : fail(NULL, RWKVB_ERR_OUT_OF_MEMORY, "template: out of memory");
}

static void destroy(rwkvb_context* ctx) {
    if (!ctx) return;
    free(ctx->layers);
    free(ctx->work);
    free(ctx);
}

/* ---- load -------------------------------------------------------------------------------- */

/* The F32 tensor `name` with `numel` elements, or NULL after recording the problem. */
static const float* tensor(rwkvb_context* ctx, const rwkvb_tensor* t, size_t n, const char* name,
                           int64_t numel) {
    for (size_t i = 0; i < n; ++i) {
        if (strcmp(t[i].name, name) != 0) continue;
        if (t[i].dtype != RWKVB_F32) {
            fail(ctx, RWKVB_ERR_UNSUPPORTED, "template: tensor '%s' is not F32 (this plugin reads F32 only)", name);
            return NULL;
        }
        if (t[i].nbytes != (uint64_t)numel * sizeof(float)) {
            fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "template: tensor '%s' has %llu bytes, expected %lld", name,
                 (unsigned long long)t[i].nbytes, (long long)(numel * 4));
            return NULL;
        }
        return (const float*)t[i].data;
    }
    fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "template: tensor '%s' is missing", name);
    return NULL;
}

static rwkvb_status load(rwkvb_context* ctx, const rwkvb_model_config* cfg, const rwkvb_tensor* t, size_t n,
                         int32_t weight_dtype) {
    if (!ctx || !cfg || !t) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "load: NULL argument");
    if (cfg->version != 7)
        return fail(ctx, RWKVB_ERR_UNSUPPORTED, "template: runs RWKV-7 only, this model is v%d", cfg->version);
    if (weight_dtype != RWKVB_F32)
        return fail(ctx, RWKVB_ERR_UNSUPPORTED, "template: computes with f32 weights only");
    const int64_t D = cfg->n_embd, F = cfg->dim_ffn, V = cfg->vocab_size, H = cfg->n_head, N = cfg->head_size;
    if (cfg->dim_att != D || H * N != D || D <= 0 || F <= 0 || V <= 0 || cfg->n_layer <= 0)
        return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "template: inconsistent model dimensions");
    const int64_t Dw = cfg->lora_decay, Da = cfg->lora_iclr, Dv = cfg->lora_value, Dg = cfg->lora_gate;
    ctx->cfg = *cfg;
    free(ctx->layers);
    ctx->layers = calloc((size_t)cfg->n_layer, sizeof *ctx->layers);
    if (!ctx->layers) return fail(ctx, RWKVB_ERR_OUT_OF_MEMORY, "template: out of memory");

#define GET(dst, name, numel)                                     \
    do {                                                          \
        if (!((dst) = tensor(ctx, t, n, (name), (numel)))) return ctx->status; \
    } while (0)
    char name[160];
    GET(ctx->emb, "emb.weight", V * D);
    GET(ctx->ln0_w, "blocks.0.ln0.weight", D);
    GET(ctx->ln0_b, "blocks.0.ln0.bias", D);
    GET(ctx->ln_out_w, "ln_out.weight", D);
    GET(ctx->ln_out_b, "ln_out.bias", D);
    GET(ctx->head, "head.weight", V * D);
    for (int l = 0; l < cfg->n_layer; ++l) {
        struct layer* y = &ctx->layers[l];
#define LAYER(dst, suffix, numel)                                  \
    snprintf(name, sizeof name, "blocks.%d.%s", l, (suffix));      \
    GET(y->dst, name, (numel))
        LAYER(ln1_w, "ln1.weight", D); LAYER(ln1_b, "ln1.bias", D);
        LAYER(ln2_w, "ln2.weight", D); LAYER(ln2_b, "ln2.bias", D);
        LAYER(x_r, "att.x_r", D); LAYER(x_w, "att.x_w", D); LAYER(x_k, "att.x_k", D);
        LAYER(x_v, "att.x_v", D); LAYER(x_a, "att.x_a", D); LAYER(x_g, "att.x_g", D);
        LAYER(w0, "att.w0", D); LAYER(w1, "att.w1", D * Dw); LAYER(w2, "att.w2", Dw * D);
        LAYER(a0, "att.a0", D); LAYER(a1, "att.a1", D * Da); LAYER(a2, "att.a2", Da * D);
        if (l > 0) { /* block 0's value-residual LoRA is never used */
            LAYER(v0, "att.v0", D); LAYER(v1, "att.v1", D * Dv); LAYER(v2, "att.v2", Dv * D);
        }
        LAYER(g1, "att.g1", D * Dg); LAYER(g2, "att.g2", Dg * D);
        LAYER(k_k, "att.k_k", D); LAYER(k_a, "att.k_a", D); LAYER(r_k, "att.r_k", D);
        LAYER(wr, "att.receptance.weight", D * D); LAYER(wk, "att.key.weight", D * D);
        LAYER(wv, "att.value.weight", D * D); LAYER(wo, "att.output.weight", D * D);
        LAYER(lnx_w, "att.ln_x.weight", D); LAYER(lnx_b, "att.ln_x.bias", D);
        LAYER(ffn_x_k, "ffn.x_k", D); LAYER(ffn_wk, "ffn.key.weight", F * D); LAYER(ffn_wv, "ffn.value.weight", D * F);
#undef LAYER
    }
#undef GET
    int64_t lora = Dw > Da ? Dw : Da;
    if (Dv > lora) lora = Dv;
    if (Dg > lora) lora = Dg;
    ctx->work_floats = (size_t)(20 * D + F + lora);
    free(ctx->work);
    ctx->work = malloc(ctx->work_floats * sizeof(float));
    return ctx->work ? RWKVB_OK : fail(ctx, RWKVB_ERR_OUT_OF_MEMORY, "template: out of memory");
}

/* ---- state ------------------------------------------------------------------------------- */

static size_t layer_state_floats(const rwkvb_model_config* c) {
    return (size_t)(2 * c->n_embd + c->n_head * c->head_size * c->head_size);
}

static rwkvb_status state_new(rwkvb_context* ctx, int32_t batch, rwkvb_state** out) {
    if (!ctx || !out || batch <= 0) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_new: bad argument");
    if (!ctx->layers) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_new: no model loaded");
    rwkvb_state* s = calloc(1, sizeof *s);
    size_t floats = (size_t)batch * (size_t)ctx->cfg.n_layer * layer_state_floats(&ctx->cfg);
    if (s) s->data = calloc(floats, sizeof(float));
    if (!s || !s->data) {
        free(s);
        return fail(ctx, RWKVB_ERR_OUT_OF_MEMORY, "template: out of memory for the state");
    }
    s->batch = batch;
    ctx->state_bytes_live += floats * sizeof(float);
    *out = s;
    return RWKVB_OK;
}

static rwkvb_status state_reset(rwkvb_context* ctx, rwkvb_state* s) {
    if (!ctx || !s) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "state_reset: NULL argument");
    memset(s->data, 0, (size_t)s->batch * ctx->cfg.n_layer * layer_state_floats(&ctx->cfg) * sizeof(float));
    return RWKVB_OK;
}

static void state_free(rwkvb_context* ctx, rwkvb_state* s) {
    if (!s) return;
    if (ctx) ctx->state_bytes_live -= (size_t)s->batch * ctx->cfg.n_layer * layer_state_floats(&ctx->cfg) * sizeof(float);
    free(s->data);
    free(s);
}

/* ---- the model (RWKV.md §5), written to be read, not to be fast ---------------------------- */

static void layer_norm(float* y, const float* x, const float* w, const float* b, int64_t n, float eps) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= (double)n;
    const double inv = 1.0 / sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = (float)((x[i] - mean) * inv) * w[i] + b[i];
}

/* y = W·x with W stored [out, in] (nn.Linear). */
static void linear(float* y, const float* W, const float* x, int64_t out, int64_t in) {
    for (int64_t o = 0; o < out; ++o) {
        float acc = 0;
        for (int64_t i = 0; i < in; ++i) acc += W[o * in + i] * x[i];
        y[o] = acc;
    }
}

/* y = x @ M with M stored [in, out] (the LoRA matrices). */
static void row_times(float* y, const float* x, const float* M, int64_t in, int64_t out) {
    for (int64_t o = 0; o < out; ++o) y[o] = 0;
    for (int64_t i = 0; i < in; ++i)
        for (int64_t o = 0; o < out; ++o) y[o] += x[i] * M[i * out + o];
}

static float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }

/* One token of one stream; logits may be NULL. */
static void forward_token(rwkvb_context* ctx, float* state, int32_t token, float* logits) {
    const rwkvb_model_config* c = &ctx->cfg;
    const int64_t D = c->n_embd, F = c->dim_ffn, H = c->n_head, N = c->head_size;
    float* x = ctx->work;       /* residual stream */
    float* z = x + D;           /* LayerNorm output */
    float* xm = z + D;          /* a mixed input */
    float* r = xm + D;
    float* k = r + D;
    float* v = k + D;
    float* w = v + D;
    float* a = w + D;
    float* g = a + D;
    float* kk = g + D;
    float* y = kk + D;
    float* vfirst = y + D;
    float* tmp = vfirst + D;    /* D */
    float* hid = tmp + D;       /* F */
    float* lora = hid + F;      /* max LoRA rank */
    layer_norm(x, ctx->emb + (int64_t)token * D, ctx->ln0_w, ctx->ln0_b, D, 1e-5f);
    for (int l = 0; l < c->n_layer; ++l) {
        const struct layer* p = &ctx->layers[l];
        float* att_x = state + (size_t)l * layer_state_floats(c);
        float* S = att_x + D;
        float* ffn_x = S + H * N * N;
        /* time mix */
        layer_norm(z, x, p->ln1_w, p->ln1_b, D, 1e-5f);
#define MIX(mu) for (int64_t i = 0; i < D; ++i) xm[i] = z[i] + (att_x[i] - z[i]) * (mu)[i]
        MIX(p->x_r); linear(r, p->wr, xm, D, D);
        MIX(p->x_k); linear(k, p->wk, xm, D, D);
        MIX(p->x_v); linear(v, p->wv, xm, D, D);
        MIX(p->x_w);
        row_times(lora, xm, p->w1, D, c->lora_decay);
        for (int64_t i = 0; i < c->lora_decay; ++i) lora[i] = tanhf(lora[i]);
        row_times(w, lora, p->w2, c->lora_decay, D);
        for (int64_t i = 0; i < D; ++i) w[i] = expf(-0.606531f * sigmoidf_(p->w0[i] + w[i]));
        MIX(p->x_a);
        row_times(lora, xm, p->a1, D, c->lora_iclr);
        row_times(a, lora, p->a2, c->lora_iclr, D);
        for (int64_t i = 0; i < D; ++i) a[i] = sigmoidf_(p->a0[i] + a[i]);
        MIX(p->x_g);
        row_times(lora, xm, p->g1, D, c->lora_gate);
        for (int64_t i = 0; i < c->lora_gate; ++i) lora[i] = sigmoidf_(lora[i]);
        row_times(g, lora, p->g2, c->lora_gate, D);
        if (l == 0) {
            memcpy(vfirst, v, (size_t)D * sizeof(float));
        } else {
            MIX(p->x_v);
            row_times(lora, xm, p->v1, D, c->lora_value);
            row_times(tmp, lora, p->v2, c->lora_value, D);
            for (int64_t i = 0; i < D; ++i) v[i] += (vfirst[i] - v[i]) * sigmoidf_(p->v0[i] + tmp[i]);
        }
#undef MIX
        memcpy(att_x, z, (size_t)D * sizeof(float));
        for (int64_t h = 0; h < H; ++h) { /* κ̂ = normalize(k ⊙ k_k) per head, before k is rescaled */
            float norm = 0;
            for (int64_t j = h * N; j < (h + 1) * N; ++j) {
                kk[j] = k[j] * p->k_k[j];
                norm += kk[j] * kk[j];
            }
            norm = sqrtf(norm);
            if (norm < 1e-12f) norm = 1e-12f;
            for (int64_t j = h * N; j < (h + 1) * N; ++j) kk[j] /= norm;
        }
        for (int64_t i = 0; i < D; ++i) k[i] *= 1 + (a[i] - 1) * p->k_a[i];
        for (int64_t h = 0; h < H; ++h) {
            float* Sh = S + h * N * N; /* [value i][key j] */
            const float *rh = r + h * N, *kh = k + h * N, *vh = v + h * N, *wh = w + h * N;
            const float *kkh = kk + h * N, *ah = a + h * N;
            for (int64_t i = 0; i < N; ++i) {
                float sa = 0;
                for (int64_t j = 0; j < N; ++j) sa -= Sh[i * N + j] * kkh[j];
                float out = 0;
                for (int64_t j = 0; j < N; ++j) {
                    float s = Sh[i * N + j] * wh[j] + sa * kkh[j] * ah[j] + vh[i] * kh[j];
                    Sh[i * N + j] = s;
                    out += s * rh[j];
                }
                y[h * N + i] = out;
            }
        }
        for (int64_t h = 0; h < H; ++h) { /* GroupNorm per head, then the bonus */
            layer_norm(tmp + h * N, y + h * N, p->lnx_w + h * N, p->lnx_b + h * N, N, 64e-5f);
            float bonus = 0;
            for (int64_t j = h * N; j < (h + 1) * N; ++j) bonus += r[j] * k[j] * p->r_k[j];
            for (int64_t j = h * N; j < (h + 1) * N; ++j) tmp[j] = (tmp[j] + bonus * v[j]) * g[j];
        }
        linear(y, p->wo, tmp, D, D);
        for (int64_t i = 0; i < D; ++i) x[i] += y[i];
        /* channel mix */
        layer_norm(z, x, p->ln2_w, p->ln2_b, D, 1e-5f);
        for (int64_t i = 0; i < D; ++i) xm[i] = z[i] + (ffn_x[i] - z[i]) * p->ffn_x_k[i];
        memcpy(ffn_x, z, (size_t)D * sizeof(float));
        linear(hid, p->ffn_wk, xm, F, D);
        for (int64_t i = 0; i < F; ++i) hid[i] = hid[i] > 0 ? hid[i] * hid[i] : 0;
        linear(y, p->ffn_wv, hid, D, F);
        for (int64_t i = 0; i < D; ++i) x[i] += y[i];
    }
    if (logits) {
        layer_norm(z, x, ctx->ln_out_w, ctx->ln_out_b, D, 1e-5f);
        linear(logits, ctx->head, z, c->vocab_size, D);
    }
}

static rwkvb_status forward(rwkvb_context* ctx, rwkvb_state* s, const int32_t* tokens, int32_t n_tokens,
                            int32_t batch, void* logits, int32_t which) {
    if (!ctx || !s || !tokens || n_tokens <= 0 || batch != s->batch ||
        (which != RWKVB_LOGITS_NONE && !logits) || which < 0 || which > 2)
        return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: bad argument");
    const int64_t V = ctx->cfg.vocab_size;
    const size_t per_stream = (size_t)ctx->cfg.n_layer * layer_state_floats(&ctx->cfg);
    for (int32_t b = 0; b < batch; ++b)
        for (int32_t t = 0; t < n_tokens; ++t) {
            const int32_t tok = tokens[(size_t)b * n_tokens + t];
            if (tok < 0 || tok >= V) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "forward: token %d out of range", tok);
            float* out = NULL;
            if (which == RWKVB_LOGITS_ALL) out = (float*)logits + ((size_t)b * n_tokens + t) * V;
            if (which == RWKVB_LOGITS_LAST && t == n_tokens - 1) out = (float*)logits + (size_t)b * V;
            forward_token(ctx, s->data + b * per_stream, tok, out);
        }
    return RWKVB_OK;
}

static rwkvb_status synchronize(rwkvb_context* ctx) {
    (void)ctx;
    return RWKVB_OK;
}

static rwkvb_status memory_usage(rwkvb_context* ctx, rwkvb_memory* m) {
    if (!ctx || !m) return fail(ctx, RWKVB_ERR_INVALID_ARGUMENT, "memory_usage: NULL argument");
    m->weights = 0; /* reads the harness's host copy in place */
    m->state = ctx->state_bytes_live;
    m->workspace = ctx->work_floats * sizeof(float);
    m->peak = m->state + m->workspace;
    return RWKVB_OK;
}

static const rwkvb_backend k_table = {
    RWKVB_ABI_VERSION, "template", "1.0",
    device_count, device_info, create, destroy, load,
    state_new, state_reset, state_free,
    NULL, /* state_export is optional */
    forward, synchronize, memory_usage, last_error,
};

RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    return abi_version == RWKVB_ABI_VERSION ? &k_table : NULL;
}
