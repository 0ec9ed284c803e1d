#include "paths.hpp"

#include <cstdlib>

namespace rwkvb {

std::filesystem::path cache_dir() {
    std::filesystem::path dir;
    if (const char* e = std::getenv("RWKVBENCH_CACHE_DIR"); e && *e)
        dir = e;
    else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
        dir = std::filesystem::path(x) / "rwkvbench";
    else if (const char* h = std::getenv("HOME"); h && *h)
        dir = std::filesystem::path(h) / ".cache" / "rwkvbench";
    else
        dir = "/tmp/rwkvbench-cache";
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace rwkvb
