/* Calls abort() in forward: the worker dies of SIGABRT. */
#include "fake.h"
#include <stdlib.h>
static void die(void) { abort(); }
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_abort", .in_forward = die};
