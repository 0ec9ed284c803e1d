// Placeholder until this command lands: it exists so the CLI builds, and says plainly it is absent.
#include "commands.hpp"
#include "exit_codes.hpp"

#include <cstdio>

namespace rwkvb {

void register_synth(CLI::App& app) {
    auto* cmd = app.add_subcommand("synth", "(not built yet)");
    set_action(cmd, [] {
        std::fputs("rwkvbench: 'synth' is not implemented yet\n", stderr);
        return kExitInternal;
    });
}

}  // namespace rwkvb
