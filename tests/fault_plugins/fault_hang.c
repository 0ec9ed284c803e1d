/* Never returns from forward: only the harness's timeout ends the worker. */
#include "fake.h"
#include <unistd.h>
static void hang(void) {
    for (;;) sleep(1);
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_hang", .in_forward = hang};
