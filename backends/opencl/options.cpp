#include "options.hpp"

#include "cl_common.hpp"

#include <rwkvbench/backend.h>

#include <cstdlib>
#include <sstream>

namespace rwkvb::ocl {

namespace {

int parse_int(const std::string& key, const std::string& value, int lo, int hi) {
    char* end = nullptr;
    const long v = std::strtol(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < lo || v > hi)
        throw PluginError(RWKVB_ERR_INVALID_ARGUMENT,
                          "option " + key + "=" + value + ": expected an integer in [" +
                              std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(v);
}

}  // namespace

Options parse_options(const char* text) {
    Options o;
    if (!text) return o;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        const auto eq = item.find('=');
        const std::string key = item.substr(0, eq);
        const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
        if (key == "wg") {
            o.wg = parse_int(key, value, 1, 1 << 16);
            if (o.wg & (o.wg - 1))
                throw PluginError(RWKVB_ERR_INVALID_ARGUMENT,
                                  "option wg=" + value + ": expected a power of two");
        } else if (key == "tile") {
            const auto x = value.find('x');
            if (x == std::string::npos)
                throw PluginError(RWKVB_ERR_INVALID_ARGUMENT,
                                  "option tile=" + value + ": expected ROWSxCOLS, e.g. 4x2");
            o.tile_m = parse_int("tile", value.substr(0, x), 1, 8);
            o.tile_n = parse_int("tile", value.substr(x + 1), 1, 8);
        } else if (key == "vec") {
            o.vec = parse_int(key, value, 4, 16);
            if (o.vec != 4 && o.vec != 8 && o.vec != 16)
                throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "option vec=" + value + ": expected 4, 8 or 16");
        } else if (key == "profile") {
            o.profile = parse_int(key, value, 0, 1) == 1;
        } else if (key == "gemv") {
            if (value == "row")
                o.gemv = Options::Gemv::Row;
            else if (value == "group")
                o.gemv = Options::Gemv::Group;
            else
                throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "option gemv=" + value + ": expected row or group");
        } else if (key == "gemv_rows") {
            o.gemv_max_rows = parse_int(key, value, 1, 1 << 20);
        } else if (key == "ln_split") {
            o.ln_split = parse_int(key, value, 1, 1 << 16);
        } else if (key == "cache_dir") {
            if (value.empty())
                throw PluginError(RWKVB_ERR_INVALID_ARGUMENT, "option cache_dir=: empty path");
            o.cache_dir = value;
        } else if (key == "cache") {
            o.no_cache = parse_int(key, value, 0, 1) == 0;
        }
        // "threads" and anything else: ignored (PoCL threads: POCL_MAX_PTHREAD_COUNT).
    }
    return o;
}

}  // namespace rwkvb::ocl
