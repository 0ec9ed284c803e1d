/* device_count never returns: `list` and the planning of `run` must give up on this plugin after
 * the discovery timeout and go on with the others. */
#include "fake.h"
#include <unistd.h>
static void hang(void) {
    for (;;) sleep(1);
}
const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_discovery_hang", .in_device_count = hang};
