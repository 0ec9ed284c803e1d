/* A library constructor that dereferences NULL: the process that dlopens this plugin dies of
 * SIGSEGV inside dlopen, before the harness can call anything. Nothing links this module, so
 * only a dlopen runs the constructor (tests pass it with --plugin; it is never installed). */
#include "fake.h"
#include <signal.h>
__attribute__((constructor, no_sanitize("null"))) static void crash_when_loaded(void) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int*)0 = 1;
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_ctor_segv"};
