/* Its entry hands back a table built for ABI version 999 whatever version is asked. */
#include "fake.h"
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_abi", .table_abi = 999};
