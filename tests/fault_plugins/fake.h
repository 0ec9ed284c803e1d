/* A minimal, complete fake backend shared by the test-only fault plugins. Each fault_*.c file
 * defines FAKE_BEHAVIOUR to misbehave in exactly one way; everything else stays valid, so the
 * harness meets only that one fault. Logits are zero unless noted. */
#ifndef RWKVB_FAKE_H
#define RWKVB_FAKE_H

#include <rwkvbench/backend.h>

typedef struct fake_behaviour {
    const char* name;           /* backend name, e.g. "fault_segv" */
    uint32_t table_abi;         /* 0: the real RWKVB_ABI_VERSION; else this (a lie) */
    int entry_returns_null;     /* the entry returns NULL whatever it is asked */
    int32_t device_count;       /* 0: one device; else this count */
    uint64_t memory_report;     /* 0: honest memory_usage; else every field reports this */
    int wrong_logits;           /* plausible but wrong F32 logits instead of zeros */
    int noop_forward;           /* forward returns at once without touching anything */
    void (*in_forward)(void);   /* called at the start of every forward (the fault), or NULL */
    void (*in_device_count)(void); /* called at the start of device_count (the fault), or NULL */
    const char* device_text;       /* the device's name and description, byte for byte, or NULL */
    const char* (*in_load)(void);  /* called at the start of load; non-NULL: load fails with it as last_error */
} fake_behaviour;

extern const fake_behaviour FAKE_BEHAVIOUR;

#endif
