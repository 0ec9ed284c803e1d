/* Correct but trivial: forward does nothing at all. Measures the harness's own overhead. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "noop", .noop_forward = 1};
