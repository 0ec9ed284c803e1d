/* "Liar" test plugins: the golden float64 reference (dlopened from the build tree) behind a table
 * of their own, honest in every call except one lie each. The harness's trust checks (DESIGN.md
 * §6) are shown to catch exactly that lie, while an honest forward (liar_honest) still PASSes.
 *
 * liar.c owns the dlopen and the forwarding table; each liar_*.c defines LIAR, naming itself and
 * replacing the members it lies in. An override calls the real reference through
 * liar_reference(). */
#ifndef RWKVB_LIAR_H
#define RWKVB_LIAR_H

#include <rwkvbench/backend.h>

typedef struct liar_spec {
    const char* name; /* backend name, e.g. "liar_batchclone" */
    /* Replaces the lying members of `table`, which starts as a copy of the reference's table
       with this liar's name and version. NULL: lies in nothing (the control). */
    void (*install)(rwkvb_backend* table);
} liar_spec;

extern const liar_spec LIAR;

/* The reference's own table; valid once rwkvb_backend_entry has returned non-NULL. */
const rwkvb_backend* liar_reference(void);

/* For a liar's own failures: records "<liar name>: <what>" for last_error and returns `status`.
   From then on last_error shows it instead of the reference's (good enough for a test plugin). */
rwkvb_status liar_fail(rwkvb_status status, const char* what);

#endif
