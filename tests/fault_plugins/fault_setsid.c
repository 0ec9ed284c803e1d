/* In its first forward, starts a daemon the classic way: a child calls setsid() (leaving the
 * worker's process group and session), forks a grandchild and exits, so the grandchild loses its
 * parent while the worker still runs. The grandchild sleeps for an hour, holding the worker's
 * output pipe. Its pid goes to the file named by $RWKVB_FAULT_SETSID_PID_FILE (when set), so a
 * test can check that the harness killed it. The cell itself then runs normally. */
#include "fake.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void start_daemon(void) {
    static int started;
    if (started) return;
    started = 1;
    int link[2];
    if (pipe(link) != 0) return;
    const pid_t child = fork();
    if (child == 0) {
        setsid();
        const pid_t grandchild = fork();
        if (grandchild == 0) {
            close(link[0]);
            close(link[1]);
            for (int i = 0; i < 3600; ++i) sleep(1);
            _exit(0);
        }
        if (write(link[1], &grandchild, sizeof grandchild) != (ssize_t)sizeof grandchild) _exit(1);
        _exit(0);
    }
    close(link[1]);
    pid_t grandchild = -1;
    if (child > 0) {
        if (read(link[0], &grandchild, sizeof grandchild) != (ssize_t)sizeof grandchild) grandchild = -1;
        waitpid(child, NULL, 0);
    }
    close(link[0]);
    const char* pid_file = getenv("RWKVB_FAULT_SETSID_PID_FILE");
    if (pid_file && grandchild > 0) {
        FILE* f = fopen(pid_file, "w");
        if (f) {
            fprintf(f, "%d\n", (int)grandchild);
            fclose(f);
        }
    }
}

const fake_behaviour FAKE_BEHAVIOUR = {.name = "fault_setsid", .in_forward = start_daemon};
