// Where rwkvbench keeps what outlives a run: golden logits, synthetic weights, machine limits.
#pragma once
#include <filesystem>

namespace rwkvb {

// $RWKVBENCH_CACHE_DIR, else $XDG_CACHE_HOME/rwkvbench, else ~/.cache/rwkvbench, else
// /tmp/rwkvbench-cache. Created on first use; InputError naming it if that is impossible.
std::filesystem::path cache_dir();

}  // namespace rwkvb
