// main.cpp (not in rwkvbench_core) defines set_action; the linker may pull a cmd_*.o from the
// core archive for a shared template instantiation, which then needs it. Tests run no CLI.
#include "commands.hpp"

namespace rwkvb {
void set_action(CLI::App*, std::function<int()>) {}
}  // namespace rwkvb
