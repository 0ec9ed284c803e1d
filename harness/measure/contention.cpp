#include "measure/contention.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <string>

namespace rwkvb {
namespace {

// Ticks of uncertainty per window, times sqrt(CPUs): each busy field is rounded to a tick at both
// ends, and each CPU's busy time is charged a scheduler tick at a time.
constexpr double kResolutionTicks = 2.0;

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::optional<CpuTimes> parse_proc_stat(std::string_view text) {
    std::optional<CpuTimes> out;
    int cpus = 0;
    while (!text.empty()) {
        const size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (line.size() < 4 || line.substr(0, 3) != "cpu") continue;
        if (std::isdigit(static_cast<unsigned char>(line[3]))) {
            ++cpus;
            continue;
        }
        if (!is_space(line[3]) || out) continue;
        CpuTimes t;
        unsigned long long* slots[] = {&t.user, &t.nice, &t.system, &t.idle, &t.iowait, &t.irq, &t.softirq, &t.steal};
        size_t i = 3;
        for (auto* slot : slots) {
            while (i < line.size() && is_space(line[i])) ++i;
            if (i >= line.size() || !std::isdigit(static_cast<unsigned char>(line[i]))) break;
            unsigned long long v = 0;
            for (; i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i)
                v = v * 10 + static_cast<unsigned long long>(line[i] - '0');
            *slot = v;
            ++t.fields;
        }
        if (t.fields < 4) return std::nullopt;  // not a line we understand
        out = t;
    }
    if (out) out->cpus = std::max(cpus, 1);
    return out;
}

CpuSnapshot take_cpu_snapshot(const char* path) noexcept {
    CpuSnapshot s;
    s.monotonic_s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    if (const long hz = ::sysconf(_SC_CLK_TCK); hz > 0) s.ticks_per_s = double(hz);
    try {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return s;
        std::string text;
        char buf[8192];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            text.append(buf, static_cast<size_t>(n));
            // The cpu lines come first; the rest (interrupt counts) can be long and is not needed.
            if (text.find("\nintr") != std::string::npos) break;
        }
        ::close(fd);
        s.times = parse_proc_stat(text);
    } catch (...) {
        s.times.reset();  // out of memory: unknown, never an error of the run
    }
    return s;
}

CpuContention measure_contention(const CpuSnapshot& before, const CpuSnapshot& after, double own_cpu_s,
                              double bound_cores) {
    CpuContention c;
    c.bound_cores = bound_cores;
    const double wall = after.monotonic_s - before.monotonic_s;
    c.wall_s = std::isfinite(wall) && wall > 0 ? wall : 0;
    if (!before.times || !after.times || c.wall_s <= 0 || !std::isfinite(own_cpu_s) || !(after.ticks_per_s > 0))
        return c;
    const CpuTimes &a = *before.times, &b = *after.times;
    const int fields = std::min(a.fields, b.fields);  // missing fields are 0 on both sides
    // A counter that went backwards (seen with iowait on some kernels) adds nothing.
    auto delta = [](unsigned long long from, unsigned long long to) { return to > from ? double(to - from) : 0.0; };
    const double busy_ticks = delta(a.user, b.user) + delta(a.nice, b.nice) + delta(a.system, b.system) +
                              (fields >= 6 ? delta(a.irq, b.irq) : 0.0) + (fields >= 7 ? delta(a.softirq, b.softirq) : 0.0);
    const double tick_s = 1.0 / after.ticks_per_s;
    c.known = true;
    c.steal_known = fields >= 8;
    c.own_cpu_s = std::max(0.0, own_cpu_s);
    c.foreign_cpu_s = std::max(0.0, busy_ticks * tick_s - c.own_cpu_s);
    c.steal_s = c.steal_known ? delta(a.steal, b.steal) * tick_s : 0.0;
    c.foreign_cpu_cores = c.foreign_cpu_s / c.wall_s;
    c.steal_cores = c.steal_s / c.wall_s;
    const double resolution_s = kResolutionTicks * std::sqrt(double(std::max(a.cpus, b.cpus))) * tick_s;
    c.resolution_cores = resolution_s / c.wall_s;
    c.contended = (c.foreign_cpu_s + c.steal_s - resolution_s) / c.wall_s > bound_cores;
    return c;
}

void to_json(nlohmann::json& j, const CpuContention& c) {
    auto known = [&](bool k, double v) { return k ? nlohmann::json(v) : nlohmann::json(nullptr); };
    j = nlohmann::json{{"foreign_cpu_cores", known(c.known, c.foreign_cpu_cores)},
                       {"steal_cores", known(c.known && c.steal_known, c.steal_cores)},
                       {"wall_s", known(c.wall_s > 0, c.wall_s)},
                       {"bound_cores", c.bound_cores},
                       {"resolution_cores", known(c.known, c.resolution_cores)},
                       {"contended", c.known ? nlohmann::json(c.contended) : nlohmann::json(nullptr)}};
}

double rusage_cpu_seconds(const struct rusage& ru) {
    return double(ru.ru_utime.tv_sec) + double(ru.ru_utime.tv_usec) * 1e-6 + double(ru.ru_stime.tv_sec) +
           double(ru.ru_stime.tv_usec) * 1e-6;
}

double self_cpu_seconds() noexcept {
    rusage ru{};
    return ::getrusage(RUSAGE_SELF, &ru) == 0 ? rusage_cpu_seconds(ru) : 0.0;
}

CpuContention ContentionWindow::finish(double children_cpu_s, double bound_cores) const {
    const double self_s = std::max(0.0, self_cpu_seconds() - self_before_);
    return measure_contention(before_, take_cpu_snapshot(), self_s + children_cpu_s, bound_cores);
}

Contention contention_record(const CpuContention& c) {
    Contention k;
    if (c.known) {
        k.foreign_cpu_cores = c.foreign_cpu_cores;
        if (c.steal_known) k.steal_cores = c.steal_cores;
    }
    k.wall_s = c.wall_s;
    k.bound_cores = c.bound_cores;
    k.resolution_cores = c.resolution_cores;
    k.contended = c.contended;
    return k;
}

}  // namespace rwkvb
