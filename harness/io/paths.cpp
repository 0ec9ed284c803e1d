#include "io/paths.hpp"

#include "errors.hpp"

#include <fmt/format.h>

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
    // A path the user chose (or their HOME) that cannot hold a directory is their input's fault.
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir))
        throw InputError(fmt::format("{}: cannot create the cache directory ({}); set RWKVBENCH_CACHE_DIR to a "
                                     "writable directory",
                                     dir.string(), ec ? ec.message() : "not a directory"));
    return dir;
}

}  // namespace rwkvb
