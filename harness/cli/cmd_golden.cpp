// `rwkvbench golden --request FILE --cache-dir DIR`: the clean room where golden logits are
// computed (golden_cache.hpp). Started by the parent of a run, never by a person, so hidden from
// --help. It loads the reference plugin and nothing else, from files whose SHA-256 the parent
// pinned; exit 0 once the verified cache entry is written, 2 on a bad request or changed file.
#include "io/atomic_file.hpp"
#include "cli/commands.hpp"
#include "vocabulary.hpp"
#include "parity/golden_cache.hpp"

#include <memory>
#include <string>

namespace rwkvb {

void register_golden(CLI::App& app) {
    auto* cmd = app.add_subcommand("golden", "Compute golden logits in a clean process (started by `run`; internal)");
    cmd->group("");
    struct Args {
        std::string request, cache_dir;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--request", a->request, "Golden request (JSON)")->required();
    cmd->add_option("--cache-dir", a->cache_dir, "Cache directory the entry is written to")->required();
    set_action(cmd, [a] {
        compute_golden_into_cache(a->cache_dir, golden_request_from_json(read_file(a->request)));
        return kExitOk;
    });
}

}  // namespace rwkvb
