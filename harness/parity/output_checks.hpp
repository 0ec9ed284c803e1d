// Which logits a cell hands back to be judged (DESIGN.md §6, MLPerf TEST01): for each scenario,
// the token stream each check follows and the steps whose logits it captures. The worker (which
// captures them while it runs) and the parent (which fetches the golden and judges) both derive
// this list from the spec alone, so the plugin under test cannot choose what it is judged on.
#pragma once
#include "run/cell.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace rwkvb {

struct OutputCheck {
    std::string name;         // tensor name in the cell's outputs file, e.g. "decode.last_rep"
    std::string what;         // one line for a person: which path of the backend it exercises
    uint64_t stream = 0;      // synthetic token stream of the spec's seed (batch stream index)
    size_t stream_tokens = 0; // tokens of that stream the golden must consume (prompt included)
    std::vector<int> steps;   // ascending; step t = the logits after tokens[0..t]
};

// The checks of a cell, in the order its outputs file holds them. Empty only for an unknown
// scenario. Sizes follow the spec's parameters (see output_checks.cpp for each scenario).
std::vector<OutputCheck> output_checks(const CellSpec& spec);

// The tokens a check's stream consists of (what both the worker fed and the golden consumes).
std::vector<int32_t> check_tokens(const CellSpec& spec, const OutputCheck& check, int32_t vocab);

// Step at which the long scenario's window starting at `position` captures logits: its last
// timed token (scenarios.cpp feeds one un-timed token, then the timed window).
int long_capture_step(int position);

}  // namespace rwkvb
