// SIGINT and SIGTERM during `run`: the first one becomes a stop request that the running worker's
// wait loop sees within 50 ms (worker_process.hpp StopFlag), so the run can end cleanly — worker
// killed, results written, resume command printed, exit 128 + signal. The handler only stores
// into lock-free atomics (async-signal-safe). A second Ctrl-C ends the process the default way:
// the handler is one-shot (SA_RESETHAND), for a run stuck somewhere no flag is looked at.
#pragma once
#include "run/worker_process.hpp"

namespace rwkvb {

class InterruptCatcher {
public:
    InterruptCatcher();   // installs the handlers; one catcher at a time per process
    ~InterruptCatcher();  // puts the previous handlers back
    InterruptCatcher(const InterruptCatcher&) = delete;
    InterruptCatcher& operator=(const InterruptCatcher&) = delete;

    const StopFlag& stop_flag() const;
    bool interrupted() const { return signal_number() != 0; }
    int signal_number() const;  // SIGINT or SIGTERM (the first one caught), 0 if none
    int exit_code() const { return 128 + signal_number(); }  // 130 for SIGINT, 143 for SIGTERM
};

}  // namespace rwkvb
