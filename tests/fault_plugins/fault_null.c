/* Its entry returns NULL: it speaks no ABI version the harness knows. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_null", .entry_returns_null = 1};
