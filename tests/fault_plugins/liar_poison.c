/* Poisons the weights it is lent: load() makes the pages of `head.weight` writable with mprotect
 * and negates one element in every 64, in the very memory the harness handed over (the harness
 * maps the checkpoint read-only and private, so the writes are copy-on-write and the file stays
 * intact). Its logits are then self-consistent with those in-memory weights but differ from the
 * checkpoint's golden — which a golden computed from the same memory after load() cannot see. */
#include "liar.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { POISON_STRIDE = 64 }; /* one element in 64: far above every dtype's parity threshold */

static int element_size(int32_t dtype) {
    switch (dtype) {
        case RWKVB_F64: return 8;
        case RWKVB_F32: return 4;
        case RWKVB_F16:
        case RWKVB_BF16: return 2;
        default: return 0; /* not a float: no sign bit to flip */
    }
}

static int make_writable(const void* data, uint64_t nbytes) {
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t begin = (uintptr_t)data & ~(page - 1);
    const uintptr_t end = (uintptr_t)data + (uintptr_t)nbytes;
    return mprotect((void*)begin, end - begin, PROT_READ | PROT_WRITE);
}

/* Flips the sign bit (the top bit of the last byte, little-endian) of every POISON_STRIDE-th
   element: the same lie for f16, bf16, f32 and f64, with no conversion. */
static void negate_some(const rwkvb_tensor* t, int size) {
    unsigned char* bytes = (unsigned char*)(uintptr_t)t->data; /* the lie: const cast away */
    const uint64_t n = t->nbytes / (uint64_t)size;
    for (uint64_t i = 0; i < n; i += POISON_STRIDE) bytes[i * (uint64_t)size + (uint64_t)size - 1] ^= 0x80u;
}

static rwkvb_status poison_load(rwkvb_context* ctx, const rwkvb_model_config* config, const rwkvb_tensor* tensors,
                                size_t n_tensors, int32_t weight_dtype) {
    for (size_t i = 0; tensors && i < n_tensors; ++i) {
        if (!tensors[i].name || strcmp(tensors[i].name, "head.weight") != 0) continue;
        const int size = element_size(tensors[i].dtype);
        if (!size) return liar_fail(RWKVB_ERR_UNSUPPORTED, "head.weight is not a float tensor");
        if (make_writable(tensors[i].data, tensors[i].nbytes) != 0)
            return liar_fail(RWKVB_ERR_INTERNAL, "mprotect(PROT_READ|PROT_WRITE) of head.weight failed");
        negate_some(&tensors[i], size);
        return liar_reference()->load(ctx, config, tensors, n_tensors, weight_dtype);
    }
    return liar_fail(RWKVB_ERR_UNSUPPORTED, "no head.weight to poison");
}

static void install(rwkvb_backend* table) { table->load = poison_load; }

const liar_spec LIAR = {.name = "liar_poison", .install = install};
