// The command line that runs one cell again (as benchdnn prints a repro line for every failure):
// pasted into a shell, it plans exactly this cell — same backend, device, workload, scenario,
// dtype, seed, threads, parameters and parity thresholds — so a failure can be rerun and shared.
#pragma once
#include "run/cell.hpp"

#include <string>

namespace rwkvb {

// "rwkvbench run -b reference:0 -w rwkv7-0.1b -s decode --dtype f32 ...", shell-quoted.
std::string repro_command(const CellSpec& spec);

}  // namespace rwkvb
