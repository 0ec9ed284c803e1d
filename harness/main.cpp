#include "cli/cli_checks.hpp"
#include "cli/commands.hpp"
#include "errors.hpp"
#include "vocabulary.hpp"
#include "plugin/plugin.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    using namespace rwkvb;
    CLI::App app{
        "rwkvbench — certify and compare hardware on a reference RWKV language-model workload.\n"
        "Start with `rwkvbench run` (every backend here, synthetic RWKV-7, table + results JSON),\n"
        "`rwkvbench list` (what this machine offers) and `rwkvbench <command> --help`."};
    app.require_subcommand(1);
    app.set_version_flag("--version", "rwkvbench " RWKVB_VERSION " (" RWKVB_GIT_HASH ")");
    app.failure_message(one_line_usage_error);
    register_run(app);
    register_list(app);
    register_models(app);
    register_synth(app);
    register_logits(app);
    register_limits(app);
    register_compare(app);
    register_merge(app);
    register_certify(app);
    register_worker(app);
    register_probe(app);
    register_golden(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kExitOk : kExitUsage;
    }
    try {
        for (const CLI::App* sub : app.get_subcommands())
            if (auto it = command_actions().find(sub); it != command_actions().end()) return it->second();
        return kExitInternal;
    } catch (const InputError& e) {
        std::fprintf(stderr, "rwkvbench: error: %s\n", e.what());
        return kExitUsage;
    } catch (const PluginError& e) {
        std::fprintf(stderr, "rwkvbench: error: %s\n", e.what());
        return kExitCellFailed;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rwkvbench: internal error (please report): %s\n", e.what());
        return kExitInternal;
    }
}
