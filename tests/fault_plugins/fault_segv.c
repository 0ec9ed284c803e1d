/* Dereferences NULL in forward: the worker dies of SIGSEGV. */
#include "fake.h"
static void crash(void) { *(volatile int*)0 = 1; }
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_segv", .in_forward = crash};
