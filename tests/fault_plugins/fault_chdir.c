/* Changes the working directory in load — to /proc, where nothing can be written — then works
 * normally. The cell's record survives only if every path the harness hands the worker is
 * absolute. */
#include "fake.h"
#include <unistd.h>
static const char* wander(void) { return chdir("/proc") == 0 ? NULL : "fault_chdir: chdir(\"/proc\") failed"; }
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_chdir", .in_load = wander};
