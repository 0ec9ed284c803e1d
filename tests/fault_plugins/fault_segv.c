/* Dereferences NULL in forward: the worker dies of SIGSEGV. Under the asan preset the default
 * action is restored first and UBSan's null check is off here, so the sanitizers do not turn
 * this deliberate crash into a report and exit(1); elsewhere both are no-ops. */
#include "fake.h"
#include <signal.h>
__attribute__((no_sanitize("null"))) static void crash(void) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int*)0 = 1;
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_segv", .in_forward = crash};
