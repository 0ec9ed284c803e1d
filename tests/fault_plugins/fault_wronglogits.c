/* Plausible but wrong F32 logits: runs fine and must fail parity. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_wronglogits", .wrong_logits = 1};
