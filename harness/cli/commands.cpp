#include "cli/commands.hpp"

#include <map>

namespace rwkvb {

std::map<const CLI::App*, std::function<int()>>& command_actions() {
    static std::map<const CLI::App*, std::function<int()>> actions;
    return actions;
}

void set_action(CLI::App* command, std::function<int()> action) { command_actions()[command] = std::move(action); }

}  // namespace rwkvb
