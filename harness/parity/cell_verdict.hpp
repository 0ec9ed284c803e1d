// The verdict on a cell's outputs, given by the parent (DESIGN.md §6, "trust nothing a plugin
// touches"). The worker shares its address space with the plugin under test, so nothing it
// concludes is trusted: it only hands back the logits its scenario produced (cell_outputs.hpp),
// and here — in a process that never loads a plugin — they are compared with golden logits
// computed in the clean room (golden_cache.hpp):
//  - a parity cell gets its "parity" object and PASS/FAIL;
//  - a timed cell (prefill, decode, batch, long) gets a "verification" object; when its own
//    output differs from the golden under its dtype's parity thresholds, its status becomes
//    `invalid` and its speed is never certified.
#pragma once
#include "run/cell.hpp"
#include "parity/golden_cache.hpp"
#include "model_config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace rwkvb {

class CellJudge {
public:
    // `golden.timeout_s` is the base limit of a clean-room process; each golden adds time for its
    // tokens (at a float64 speed far below any host's), so only a hang is cut short.
    // Pins the SHA-256 of the reference plugin and of every checkpoint the cells use, now,
    // before any plugin under test runs. `known` are digests already computed from the same
    // files (the synthetic weights' check), to save hashing them twice.
    CellJudge(GoldenSource golden, const std::vector<CellSpec>& cells,
              const std::map<std::filesystem::path, std::string>& known = {});

    // Reads or computes, before any plugin under test runs, every golden the cells' checks will
    // need, and pins the SHA-256 of each: a cache entry forged later in the run (a plugin runs as
    // you and can write files) is then recomputed rather than believed. `say` hears progress.
    void prefetch(const std::vector<CellSpec>& cells, const std::function<void(const std::string&)>& say);

    // Judges `record` (the worker's, status and all) from the outputs file, which is removed
    // afterwards. Whatever the worker wrote under "parity" or "verification" is discarded first.
    // Returns lines for the person watching (a golden cache entry that failed its check).
    std::vector<std::string> judge(CellResult& record, const CellSpec& spec,
                                   const std::filesystem::path& outputs);

private:
    const ModelConfig& config_of(const std::filesystem::path& model);
    std::map<uint64_t, GoldenRequest> requests_for(const CellSpec& spec);  // one per token stream
    GoldenLogits fetch(const GoldenRequest& request, const ModelConfig& config, std::vector<std::string>& notes);
    GoldenSource golden_;
    std::filesystem::path reference_;
    std::string reference_sha256_;
    std::map<std::filesystem::path, std::string> model_sha256_;
    std::map<std::filesystem::path, ModelConfig> configs_;
    // SHA-256 of every golden's logits as first seen in this run, by key: an entry that changes
    // under a running benchmark (a plugin can write files) is recomputed, not believed.
    std::map<std::string, std::string> golden_sha256_;
    std::map<std::string, std::string> recomputed_;  // key → why its cache entry was recomputed
};

}  // namespace rwkvb
