// What the machine is (DESIGN.md §7): CPU, caches, memory, OS, compiler, oneDNN and OpenCL
// versions, and how busy it is right now (load, frequency governor) — recorded with every run
// so numbers from different hosts can be told apart and noisy cells explained.
#pragma once
#include <nlohmann/json.hpp>

namespace rwkvb {

// Never throws for a missing source: a field that cannot be read becomes null or a note.
// OpenCL is queried through dlopen("libOpenCL.so.1") so the harness never links it.
nlohmann::json collect_system_info();
// {"time": ISO-8601 UTC, "loadavg": [1, 5, 15 min], "governors": [...] or "unavailable"}
nlohmann::json host_load_snapshot();

}  // namespace rwkvb
