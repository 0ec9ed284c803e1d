/*
 * rwkvbench plugin ABI — the only header a backend vendor needs.
 *
 * A plugin is a shared library exporting one C symbol, `rwkvb_backend_entry`. The harness calls
 * it with the ABI version it speaks; the plugin returns a pointer to a static, const table of
 * function pointers for that version, or NULL if it does not speak it. Any change to a struct or
 * a function signature below bumps RWKVB_ABI_VERSION.
 *
 * Rules every plugin follows:
 *  - every function returns an rwkvb_status; no C++ exception, longjmp or abort crosses the ABI;
 *  - after a non-OK status, last_error() returns one line a person can act on;
 *  - tensors handed to load() stay valid and unchanged until destroy(), so a plugin may keep
 *    pointers into them instead of copying (the golden reference does);
 *  - a context is used by one thread at a time; the plugin may use threads inside a call.
 *
 * Plain C99 so that any compiler can implement it.
 */
#ifndef RWKVBENCH_BACKEND_H
#define RWKVBENCH_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RWKVB_ABI_VERSION 1u

#if defined(_WIN32)
#define RWKVB_EXPORT __declspec(dllexport)
#else
#define RWKVB_EXPORT __attribute__((visibility("default")))
#endif

typedef enum rwkvb_status {
    RWKVB_OK = 0,
    RWKVB_ERR_INVALID_ARGUMENT = 1, /* a bad pointer, size, shape or option */
    RWKVB_ERR_UNSUPPORTED = 2,      /* model version, dtype or mode this plugin does not offer */
    RWKVB_ERR_OUT_OF_MEMORY = 3,    /* host or device allocation failed */
    RWKVB_ERR_DEVICE = 4,           /* the driver or device failed */
    RWKVB_ERR_INTERNAL = 5          /* a bug in the plugin */
} rwkvb_status;

/* Element types. Values are stable: they appear in results files. */
typedef enum rwkvb_dtype {
    RWKVB_F64 = 0,
    RWKVB_F32 = 1,
    RWKVB_F16 = 2,
    RWKVB_BF16 = 3,
    RWKVB_I32 = 4,
    RWKVB_I8 = 5, /* as a weight dtype: symmetric int8 with one float scale per output row */
    RWKVB_U8 = 6,
    RWKVB_DTYPE_COUNT = 7
} rwkvb_dtype;

#define RWKVB_DTYPE_BIT(d) (1u << (unsigned)(d))

/* Which logits forward() writes. */
typedef enum rwkvb_logits {
    RWKVB_LOGITS_LAST = 0, /* one row per stream: after its last token */
    RWKVB_LOGITS_ALL = 1,  /* n_tokens rows per stream */
    RWKVB_LOGITS_NONE = 2  /* none (prefill of a prompt whose logits are not needed) */
} rwkvb_logits;

/* Model dimensions, detected by the harness from the checkpoint (see RWKV.md §0). */
typedef struct rwkvb_model_config {
    int32_t version;    /* 4, 5, 6 or 7 */
    int32_t subversion; /* v5 only: 0, 1 or 2 (5.0, 5.1, 5.2); 0 otherwise */
    int32_t n_layer;    /* L */
    int32_t n_embd;     /* D */
    int32_t dim_att;    /* A */
    int32_t dim_ffn;    /* F */
    int32_t n_head;     /* H (v5+; 0 for v4) */
    int32_t head_size;  /* N (v5+; 0 for v4) */
    int32_t vocab_size; /* V */
    int32_t lora_maa;   /* v6: Dm (time_maa_w1 columns / 5); 0 otherwise */
    int32_t lora_decay; /* v6: Dd; v7: Dw; 0 otherwise */
    int32_t lora_iclr;  /* v7: Da */
    int32_t lora_value; /* v7: Dv */
    int32_t lora_gate;  /* v7: Dg */
} rwkvb_model_config;

/* One checkpoint tensor, in the official name and stored layout (RWKV.md §2–§5). */
typedef struct rwkvb_tensor {
    const char* name;
    int32_t dtype; /* rwkvb_dtype of the stored elements */
    int32_t ndim;  /* 0..4 */
    int64_t shape[4];
    const void* data; /* host pointer, valid until destroy() */
    uint64_t nbytes;
} rwkvb_tensor;

#define RWKVB_NAME_LEN 128

typedef struct rwkvb_device_info {
    char name[RWKVB_NAME_LEN];
    char vendor[RWKVB_NAME_LEN];
    char driver_version[RWKVB_NAME_LEN];
    char description[RWKVB_NAME_LEN * 2]; /* free text: platform, ISA, extensions */
    uint64_t memory_bytes;                /* memory usable for weights and state */
    int32_t compute_units;
    uint32_t weight_dtypes;  /* RWKVB_DTYPE_BIT mask of weight dtypes load() accepts at speed */
    uint32_t compute_dtypes; /* RWKVB_DTYPE_BIT mask of arithmetic types used */
    int32_t logits_dtype;    /* RWKVB_F32 or RWKVB_F64: the element type forward() writes */
} rwkvb_device_info;

typedef struct rwkvb_memory {
    uint64_t weights;   /* bytes the plugin holds for weights (after conversion) */
    uint64_t state;     /* bytes of all live states */
    uint64_t workspace; /* scratch buffers */
    uint64_t peak;      /* peak of the sum, on the device */
} rwkvb_memory;

typedef struct rwkvb_context rwkvb_context; /* opaque, owned by the plugin */
typedef struct rwkvb_state rwkvb_state;     /* opaque, owned by the plugin */

typedef struct rwkvb_backend {
    uint32_t abi_version; /* RWKVB_ABI_VERSION the table was built against */
    const char* name;     /* short lowercase name used on the command line, e.g. "onednn" */
    const char* version;  /* the plugin's own version string */

    /* Number of devices usable now (0 is fine: the backend is then skipped with a note). */
    rwkvb_status (*device_count)(int32_t* count);
    /* Describe device `device` (0-based). */
    rwkvb_status (*device_info)(int32_t device, rwkvb_device_info* info);

    /* Open a context on a device. `options` is "key=value,key=value" or NULL; every plugin
       understands "threads=N" (0 = its default) and ignores keys it does not know. The harness
       also passes "cache_dir=DIR", a directory of the plugin's own for anything it caches
       between runs (compiled kernels, say); using it is optional. */
    rwkvb_status (*create)(int32_t device, const char* options, rwkvb_context** ctx);
    /* Release a context and everything it owns. NULL is allowed. */
    void (*destroy)(rwkvb_context* ctx);

    /* Take the model: its config and every tensor of the checkpoint. `weight_dtype` is the
       dtype the plugin should compute with for matrix weights (it converts as it likes). */
    rwkvb_status (*load)(rwkvb_context* ctx, const rwkvb_model_config* config,
                         const rwkvb_tensor* tensors, size_t n_tensors, int32_t weight_dtype);

    /* A zero-initialised recurrent state for `batch` independent streams. */
    rwkvb_status (*state_new)(rwkvb_context* ctx, int32_t batch, rwkvb_state** state);
    /* Set a state back to zero. */
    rwkvb_status (*state_reset)(rwkvb_context* ctx, rwkvb_state* state);
    /* Free a state. NULL is allowed. */
    void (*state_free)(rwkvb_context* ctx, rwkvb_state* state);
    /* OPTIONAL (may be NULL). Copy stream `stream` of the state into the canonical float32
       layout: per layer, v4 [att_x D, aa A, bb A, pp A, ffn_x D]; v5/v6 [att_x D,
       S H×N×N as [h][key][value], ffn_x D]; v7 [att_x D, S as [h][value][key], ffn_x D].
       With out == NULL only *n_floats is set to the size needed. */
    rwkvb_status (*state_export)(rwkvb_context* ctx, const rwkvb_state* state, int32_t stream,
                                 float* out, size_t* n_floats);

    /* Consume `n_tokens` tokens for each of `batch` streams (tokens laid out [batch][n_tokens];
       n_tokens > 1 is sequence mode), update the state, and write logits to `logits`, laid out
       [batch][rows][vocab] with rows = n_tokens (ALL), 1 (LAST) or 0 (NONE), in the device's
       logits_dtype. `batch` must equal the state's batch. */
    rwkvb_status (*forward)(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens,
                            int32_t n_tokens, int32_t batch, void* logits, int32_t which);

    /* Wait until all queued device work is finished (a no-op on synchronous backends). */
    rwkvb_status (*synchronize)(rwkvb_context* ctx);
    /* Bytes held now (and the peak) on the device. */
    rwkvb_status (*memory_usage)(rwkvb_context* ctx, rwkvb_memory* usage);
    /* The last error as one line; ctx may be NULL for errors of device_count/device_info/create.
       Never NULL (an empty string when there was no error). */
    const char* (*last_error)(const rwkvb_context* ctx);
} rwkvb_backend;

/* The one exported symbol. Returns the table for `abi_version`, or NULL if not spoken. */
typedef const rwkvb_backend* (*rwkvb_backend_entry_fn)(uint32_t abi_version);
#define RWKVB_ENTRY_SYMBOL "rwkvb_backend_entry"

#ifdef __cplusplus
}
#endif

#endif /* RWKVBENCH_BACKEND_H */
