// Placeholder until this command lands: it exists so the CLI builds, and says plainly it is absent.
#include "commands.hpp"
#include "exit_codes.hpp"

#include <cstdio>

namespace rwkvb {

void register_limits(CLI::App& app) {
    auto* cmd = app.add_subcommand("limits", "(not built yet)");
    set_action(cmd, [] {
        std::fputs("rwkvbench: 'limits' is not implemented yet\n", stderr);
        return kExitInternal;
    });
}

}  // namespace rwkvb
