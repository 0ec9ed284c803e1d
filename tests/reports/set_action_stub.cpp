// rwkvb::set_action is defined in harness/main.cpp, outside rwkvbench_core, yet the linker pulls
// cmd_*.cpp objects (which call it) into any binary linking the core: they hold weak copies of
// std::string members that gtest needs first. A weak no-op keeps the tests linkable and yields
// to a real definition should set_action move into the core library.
#include "commands.hpp"

namespace rwkvb {
__attribute__((weak)) void set_action(CLI::App*, std::function<int()>) {}
}  // namespace rwkvb
