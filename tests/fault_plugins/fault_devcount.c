/* Claims a million devices: the loader must refuse the count instead of trusting it. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_devcount", .device_count = 1000000};
