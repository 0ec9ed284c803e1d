#include "phase_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace rwkvb {

void PhaseProfile::add(const std::string& phase, double seconds) {
    Entry& e = entries_[phase];
    e.seconds += seconds;
    ++e.calls;
    seconds_ += seconds;
}

PhaseProfile::~PhaseProfile() {
    std::vector<std::pair<std::string, Entry>> rows(entries_.begin(), entries_.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    double total = 0;
    for (const auto& r : rows) total += r.second.seconds;
    const char* who = backend_.c_str();
    std::fprintf(stderr, "%s profile: %-44s %10s %9s %10s %6s\n", who, "phase", "total ms", "calls", "us/call", "share");
    for (const auto& [name, e] : rows)
        std::fprintf(stderr, "%s profile: %-44s %10.1f %9ld %10.1f %5.1f%%\n", who, name.c_str(), 1e3 * e.seconds,
                     e.calls, 1e6 * e.seconds / double(e.calls), total > 0 ? 100 * e.seconds / total : 0.0);
}

}  // namespace rwkvb
