// The error a user can cause (a path, a file, a flag): one line that names the thing and the
// problem. The CLI maps it to exit code 2; anything else escaping is a bug of ours (exit 1).
#pragma once
#include <stdexcept>
#include <string>

namespace rwkvb {

struct InputError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace rwkvb
