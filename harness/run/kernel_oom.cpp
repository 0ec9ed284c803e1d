#include "run/kernel_oom.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace rwkvb {
namespace {

// The number after `key` on the line of `file` that starts with it ("oom_kill 3"), or 0.
uint64_t counter(const std::string& file, const std::string& key) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
        std::istringstream fields(line);
        std::string name;
        uint64_t value = 0;
        if (fields >> name >> value && name == key) return value;
    }
    return 0;
}

// Our memory cgroup's directory under /sys/fs/cgroup: v2 ("0::/path") or v1 ("N:memory:/path").
std::string memory_cgroup_dir(bool& v2) {
    std::ifstream in("/proc/self/cgroup");
    std::string v2_dir, v1_dir;
    for (std::string line; std::getline(in, line);) {
        const size_t a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
        if (line.compare(0, a, "0") == 0 && controllers.empty()) v2_dir = "/sys/fs/cgroup" + path;
        if (controllers == "memory" || controllers.find("memory,") == 0 || controllers.find(",memory") != std::string::npos)
            v1_dir = "/sys/fs/cgroup/memory" + path;
    }
    v2 = v1_dir.empty();
    return v2 ? v2_dir : v1_dir;
}

}  // namespace

uint64_t kernel_oom_kill_count() {
    uint64_t total = counter("/proc/vmstat", "oom_kill");
    bool v2 = false;
    const std::string dir = memory_cgroup_dir(v2);
    if (!dir.empty()) total += v2 ? counter(dir + "/memory.events", "oom_kill") : counter(dir + "/memory.oom_control", "oom_kill");
    return total;
}

}  // namespace rwkvb
