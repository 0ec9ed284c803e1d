// Finding and killing what a worker leaves behind. A plugin may fork helpers, and a helper that
// calls setsid() leaves the worker's process group, so killing the group misses it. The harness
// therefore makes itself a child subreaper: such a helper is re-parented to us when its parent
// dies, and kill_escaped_descendants() finds it among our children and kills it.
//
// How an escaped descendant is told from our other children: every worker is started in a
// session of its own (worker_process.cpp), and no process can move from a worker's session back
// into ours. So a child of ours whose session differs from ours, and which is not a worker that
// run_process is still waiting for, descends from a worker. Children that other code of this
// process started (a test's own child processes) stay in our session and are never touched.
// One consequence, accepted: while two run_process calls run at once, the one that ends first
// also kills the escaped helpers of the other's worker; they would die when that cell ends anyway.
#pragma once
#include <sys/types.h>

#include <mutex>

namespace rwkvb {

// PR_SET_CHILD_SUBREAPER for this process, once. Throws std::runtime_error if the kernel refuses.
void become_child_subreaper();

// Held while a worker is started and until it is reaped: the worker is known, and the kill
// below never takes it for an escaped descendant (nor runs while it is being started).
class WorkerRegistry {
public:
    static std::unique_lock<std::mutex> lock();
    static void add(pid_t worker);     // call with lock() held
    static void remove(pid_t worker);  // after the worker was reaped
};

// SIGKILLs and reaps every child of ours from another session that is not a registered worker,
// again and again until none is left (killing one re-parents its own children to us), for at most
// `budget_s` seconds. Returns how many processes it killed or reaped.
int kill_escaped_descendants(double budget_s = 5.0);

}  // namespace rwkvb
