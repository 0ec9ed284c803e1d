/* memory_usage reports 2^60 bytes: the harness must refuse it (an error), not print it. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_memsize", .memory_report = (uint64_t)1 << 60};
