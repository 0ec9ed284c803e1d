#include "cli/interrupt.hpp"

#include <signal.h>

#include <atomic>

namespace rwkvb {
namespace {

static_assert(StopFlag::is_always_lock_free, "a signal handler may only store into a lock-free atomic");
static_assert(std::atomic<int>::is_always_lock_free, "a signal handler may only store into a lock-free atomic");

StopFlag g_stop{false};
std::atomic<int> g_signal{0};
struct sigaction g_previous_int {}, g_previous_term {};

extern "C" void on_interrupt(int sig) {
    int none = 0;
    g_signal.compare_exchange_strong(none, sig);  // the first signal decides the exit code
    g_stop.store(true);
}

}  // namespace

InterruptCatcher::InterruptCatcher() {
    g_stop.store(false);
    g_signal.store(0);
    struct sigaction action {};
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: our own reads, writes and waits go on; the flag is what stops the run.
    action.sa_flags = SA_RESTART | SA_RESETHAND;
    ::sigaction(SIGINT, &action, &g_previous_int);
    ::sigaction(SIGTERM, &action, &g_previous_term);
}

InterruptCatcher::~InterruptCatcher() {
    ::sigaction(SIGINT, &g_previous_int, nullptr);
    ::sigaction(SIGTERM, &g_previous_term, nullptr);
}

const StopFlag& InterruptCatcher::stop_flag() const { return g_stop; }

int InterruptCatcher::signal_number() const { return g_signal.load(); }

}  // namespace rwkvb
