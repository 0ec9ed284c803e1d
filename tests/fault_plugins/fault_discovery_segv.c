/* Dereferences NULL in device_count: whatever process asks it for its devices dies of SIGSEGV.
 * The default action is restored first and UBSan's null check is off here, as in fault_segv.c,
 * so that under the sanitizers it still dies of the signal. */
#include "fake.h"
#include <signal.h>
__attribute__((no_sanitize("null"))) static void crash(void) {
    signal(SIGSEGV, SIG_DFL);
    *(volatile int*)0 = 1;
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_discovery_segv", .in_device_count = crash};
