/* "slow": the golden reference, honest in everything (its logits PASS the harness's checks, so its
 * timed cells are `ok`), whose forward() takes a configurable time: with "sleep_us=N" among the
 * create() options (`rwkvbench run --plugin-options sleep_us=N`) every forward() returns N µs after
 * it was entered, or when the reference is done if that is later. It gives `rwkvbench compare` a
 * known slowdown to find: sleep_us=1100 against sleep_us=1000 is a forward exactly 10% slower,
 * whatever the reference's own time, as long as that stays below N. Without the option (or with
 * sleep_us=0) it is the reference.
 *
 * Built on the liars' forwarding table (liar.h: the reference dlopened from the build tree, every
 * member not overridden reaching it unchanged); it lies in nothing, it only waits.
 *
 * How it waits, chosen for the steadiest timing on a noisy, shared 2-core host:
 *  - clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to a deadline taken at entry, not a relative
 *    sleep after the work: the reference's own time, and its jitter, are absorbed into the
 *    padding, and a late wake-up in one call is not carried into the next;
 *  - sleeping, not busy-waiting: a spinning thread competes for the CPU with everything else on
 *    the host and is preempted for whole scheduler slices. Measured on this 2-core host under a
 *    build (load ~5), 8 waits of 1 ms took 35-50 ms spinning but ~9 ms sleeping; a sleeping
 *    thread uses no CPU and the scheduler favours it when it wakes, so its only error is the
 *    wake-up latency: now and then 2-4 ms on a loaded host, the same on both sides of a
 *    comparison, and small only against repetitions of tens of ms (e.g. 4 tokens x 10 ms);
 *  - a short scheduler slice asked for the calling thread (sched_setattr: sched_runtime = 100 µs,
 *    policy and nice kept; an error is ignored). Since Linux 6.12 (EEVDF) a waking task with a
 *    shorter slice than the running one preempts it at once; without it a wake-up that lands on a
 *    CPU busy with other work waits for that work's slice to end, a scheduler tick (4 ms here)
 *    later. Measured on this host under load ~5 (others' builds), sleep_us=5000, 4 tokens x 10
 *    repetitions: CV of the repetitions 0.04-0.06 in 4 of 6 runs without the hint (one repetition
 *    ~4 ms late), 0.0002-0.0004 in 6 of 6 with it. Older kernels ignore the field;
 *  - the calling thread's timer slack set to 1 ns (PR_SET_TIMERSLACK; the default 50 µs lets the
 *    kernel fire the timer up to 50 µs late to batch wake-ups).
 * Both are best effort, set once per thread, and only once a sleep is asked for.
 * One value per process: the last create()'s (the harness opens one context per worker). */
#define _GNU_SOURCE
#include "liar.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SLEEP_US = 10 * 1000 * 1000 }; /* 10 s: a typo, not a benchmark */

static long long sleep_ns; /* set by slow_create; 0: no padding */
static __thread int thread_tuned;

/* struct sched_attr as of its first version (SCHED_ATTR_SIZE_VER0, 48 bytes): older C libraries
   have no declaration of it, nor of sched_getattr/sched_setattr. */
struct slow_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};

/* The short slice and the 1 ns timer slack (see the top of the file), for the calling thread. */
static void tune_thread(void) {
#if defined(SYS_sched_getattr) && defined(SYS_sched_setattr)
    struct slow_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0u) == 0 &&
        (a.sched_policy == SCHED_OTHER || a.sched_policy == SCHED_BATCH)) {
        a.size = sizeof a;
        a.sched_flags &= 0x01; /* SCHED_FLAG_RESET_ON_FORK, the one flag that is not a request */
        a.sched_runtime = 100 * 1000;
        (void)syscall(SYS_sched_setattr, 0, &a, 0u);
    }
#endif
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

/* The value of the last "sleep_us=" key in "key=value,key=value" (later keys win, as the harness
   appends --plugin-options after its own), or -1 when absent; -2 when malformed. */
static long long parse_sleep_us(const char* options) {
    static const char key[] = "sleep_us=";
    long long value = -1;
    for (const char* p = options; p && *p;) {
        const char* end = strchr(p, ',');
        const size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len >= sizeof key - 1 && strncmp(p, key, sizeof key - 1) == 0) {
            const char* digits = p + sizeof key - 1;
            char* stop = NULL;
            errno = 0;
            const long long v = strtoll(digits, &stop, 10);
            if (stop == digits || stop != p + len || errno || v < 0 || v > MAX_SLEEP_US || *digits == '-' ||
                *digits == '+' || *digits == ' ')
                return -2;
            value = v;
        }
        p = end ? end + 1 : NULL;
    }
    return value;
}

static rwkvb_status slow_create(int32_t device, const char* options, rwkvb_context** ctx) {
    const long long us = parse_sleep_us(options);
    if (us == -2) return liar_fail(RWKVB_ERR_INVALID_ARGUMENT, "sleep_us must be whole microseconds, 0 to 10000000");
    sleep_ns = us > 0 ? us * 1000 : 0;
    return liar_reference()->create(device, options, ctx);
}

static rwkvb_status slow_forward(rwkvb_context* ctx, rwkvb_state* state, const int32_t* tokens, int32_t n_tokens,
                                 int32_t batch, void* logits, int32_t which) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    const rwkvb_status s = liar_reference()->forward(ctx, state, tokens, n_tokens, batch, logits, which);
    if (s != RWKVB_OK || sleep_ns == 0) return s;
    if (!thread_tuned) {
        tune_thread();
        thread_tuned = 1;
    }
    const long long ns = deadline.tv_nsec + sleep_ns % 1000000000LL;
    deadline.tv_sec += (time_t)(sleep_ns / 1000000000LL + ns / 1000000000LL);
    deadline.tv_nsec = (long)(ns % 1000000000LL);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {
    }
    return s;
}

static void install(rwkvb_backend* table) {
    table->create = slow_create;
    table->forward = slow_forward;
}

const liar_spec LIAR = {.name = "slow", .install = install};
