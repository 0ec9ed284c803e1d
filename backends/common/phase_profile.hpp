// profile=1 in a plugin's options: wall time per labelled phase (a kernel, a matrix shape, a
// pass), printed to stderr as a table when the profile is destroyed (the plugin's context goes).
// For finding where time goes, never for reported figures: timing each phase costs a clock read
// or two, and a backend may have to drain its device around each phase to attribute it.
#pragma once
#include <chrono>
#include <map>
#include <string>

namespace rwkvb {

class PhaseProfile {
public:
    // `backend` prefixes every printed line ("onednn profile: ...").
    explicit PhaseProfile(std::string backend) : backend_(std::move(backend)) {}
    ~PhaseProfile();
    PhaseProfile(const PhaseProfile&) = delete;
    PhaseProfile& operator=(const PhaseProfile&) = delete;
    void add(const std::string& phase, double seconds);
    // Sum over every phase so far.
    double seconds() const { return seconds_; }

private:
    struct Entry {
        double seconds = 0;
        long calls = 0;
    };
    std::string backend_;
    std::map<std::string, Entry> entries_;
    double seconds_ = 0;
};

// Times its own lifetime into `profile` under `phase`; does nothing when profile is null.
class PhaseTimer {
public:
    PhaseTimer(PhaseProfile* profile, const char* phase) : profile_(profile), phase_(phase) {
        if (profile_) start_ = std::chrono::steady_clock::now();
    }
    ~PhaseTimer() {
        if (profile_) profile_->add(phase_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    PhaseTimer(const PhaseTimer&) = delete;
    PhaseTimer& operator=(const PhaseTimer&) = delete;

private:
    PhaseProfile* profile_;
    const char* phase_;
    std::chrono::steady_clock::time_point start_;
};

// Times its own lifetime minus every phase added to `profile` meanwhile, under `phase`: what the
// timed phases inside a call did not cover. Does nothing when profile is null.
class PhaseRemainder {
public:
    PhaseRemainder(PhaseProfile* profile, const char* phase) : profile_(profile), phase_(phase) {
        if (profile_) inner0_ = profile_->seconds(), start_ = std::chrono::steady_clock::now();
    }
    ~PhaseRemainder() {
        if (!profile_) return;
        const double all = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        profile_->add(phase_, all - (profile_->seconds() - inner0_));
    }
    PhaseRemainder(const PhaseRemainder&) = delete;
    PhaseRemainder& operator=(const PhaseRemainder&) = delete;

private:
    PhaseProfile* profile_;
    const char* phase_;
    double inner0_ = 0;
    std::chrono::steady_clock::time_point start_;
};

}  // namespace rwkvb
