#include "liar.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifndef RWKVB_LIAR_REFERENCE_PATH
#error "RWKVB_LIAR_REFERENCE_PATH (the built librwkvb_reference.so) comes from CMakeLists.txt"
#endif

static const rwkvb_backend* reference_table;
static rwkvb_backend liar_table;
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static char liar_error[256];

const rwkvb_backend* liar_reference(void) { return reference_table; }

rwkvb_status liar_fail(rwkvb_status status, const char* what) {
    snprintf(liar_error, sizeof liar_error, "%s: %s", LIAR.name, what);
    return status;
}

/* A liar's own message wins: the reference knows nothing of the failures it never saw. */
static const char* liar_last_error(const rwkvb_context* ctx) {
    return liar_error[0] ? liar_error : reference_table->last_error(ctx);
}

static void setup(void) {
    /* RTLD_LOCAL: the reference's symbols stay out of the global namespace, as the harness
       loads every plugin. Opening the file the harness may also load yields the same instance,
       which is harmless: contexts and states are per call, not per library. */
    void* handle = dlopen(RWKVB_LIAR_REFERENCE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "%s: cannot load the reference plugin: %s\n", LIAR.name, dlerror());
        return;
    }
    rwkvb_backend_entry_fn entry = (rwkvb_backend_entry_fn)dlsym(handle, RWKVB_ENTRY_SYMBOL);
    const rwkvb_backend* ref = entry ? entry(RWKVB_ABI_VERSION) : NULL;
    if (!ref || ref->abi_version != RWKVB_ABI_VERSION) {
        fprintf(stderr, "%s: %s is not a reference plugin of ABI version %u\n", LIAR.name,
                RWKVB_LIAR_REFERENCE_PATH, RWKVB_ABI_VERSION);
        return;
    }
    /* Copying the members is forwarding: every call not overridden reaches the reference
       unchanged, with the reference's own contexts and states. */
    liar_table = *ref;
    liar_table.name = LIAR.name;
    liar_table.version = "0.1-test";
    liar_table.last_error = liar_last_error;
    reference_table = ref; /* before install: overrides may ask the reference about itself */
    if (LIAR.install) LIAR.install(&liar_table);
}

RWKVB_EXPORT const rwkvb_backend* rwkvb_backend_entry(uint32_t abi_version) {
    if (abi_version != RWKVB_ABI_VERSION) return NULL;
    pthread_once(&setup_once, setup);
    return reference_table ? &liar_table : NULL;
}
