/* Speaks Latin-1 where UTF-8 is expected: its device name and description, and the last_error of
 * its load (which always fails), hold bytes that are not valid UTF-8; load also writes invalid
 * bytes and a valid multi-byte character to stderr. Every one must reach JSON and messages as
 * valid UTF-8, and none may end the parent. */
#include "fake.h"
#include <stdio.h>
static const char* refuse_in_latin1(void) {
    fputs("fault_latin1: caf\xe9 cr\xe8me \xff\xfe\x80; a valid euro sign: \xe2\x82\xac\n", stderr);
    return "poids refus\xe9s (\xb5s, \xabinvalide\xbb)";
}
const fake_behaviour FAKE_BEHAVIOUR = {
    .name = "fault_latin1", .device_text = "Acc\xe9l\xe9rateur \xabtest\xbb", .in_load = refuse_in_latin1};
