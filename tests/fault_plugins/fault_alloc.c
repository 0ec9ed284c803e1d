/* Allocates and touches memory in forward until the harness's memory watchdog kills it. Stops
 * growing at 8 GiB (then hangs) so a broken watchdog shows up as a timeout, not a dead host. */
#include "fake.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void grow(void) {
    const size_t chunk = (size_t)64 << 20;
    for (size_t total = 0; total < ((size_t)8 << 30); total += chunk) {
        char* p = malloc(chunk);
        if (!p) break;
        memset(p, 1, chunk);
        usleep(5000);
    }
    for (;;) sleep(1);
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_alloc", .in_forward = grow};
