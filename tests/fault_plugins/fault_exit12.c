/* Exits in forward with the code the worker protocol uses for "out of memory" (12), writing no
 * record: an exit code alone proves nothing, so the harness reports "error: worker exited with
 * code 12", not oom. */
#include "fake.h"
#include <unistd.h>
static void quit(void) { _exit(12); }
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_exit12", .in_forward = quit};
