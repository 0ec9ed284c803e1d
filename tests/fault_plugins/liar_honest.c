/* The control: the reference behind a liar's table, lying in nothing. The harness must PASS it;
 * a trust check that fails it is too strict, not clever. */
#include "liar.h"
const liar_spec LIAR = {.name = "liar_honest", .install = NULL};
