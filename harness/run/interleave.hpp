// Interleaved rounds (`rwkvbench run --interleave N`): every timed cell is measured in N rounds,
// and round r runs every cell once, in plan order, before round r + 1 starts, so a slow drift of
// the host (thermal throttling, another tenant arriving) is spread over every backend alike
// rather than landing on whichever cells happened to run last. Each round is a fresh worker
// process with its share of the planned repetitions; the rounds' records are then merged into
// the one record of the cell, which says how many rounds it was merged from.
//
// Parity cells (no performance figure) and long cells (one pass over the positions) are not
// interleaved: they run once, in the first round.
//
// Everything here is pure over specs and records: cmd_run.cpp runs the rounds, judges each round
// like any cell (CellJudge::judge), and writes the merged record.
#pragma once
#include "cell_result.hpp"
#include "cell_spec.hpp"

#include <vector>

namespace rwkvb {

// The most rounds --interleave accepts: each round is a worker process with its own warm-up.
inline constexpr int kMaxInterleaveRounds = 1000;

// Whether a cell of this spec is measured in rounds: timed, and neither parity nor long.
bool interleaved_scenario(const CellSpec& spec);

// The spec one round's worker runs, derived from the planned one: ceil(repetitions / rounds)
// repetitions, min_time_s / rounds, max_time_s / rounds, and no precision target (target_ci 0:
// the CI of the merged samples is what is reported; no round repeats to reach it). Warm-up is
// kept: each round is a fresh process that needs its own. The id is unchanged; the record
// carries the planned spec (cmd_run stamps it), never this one. `rounds` ≥ 1; 1 returns `planned`.
CellSpec interleave_round_spec(const CellSpec& planned, int rounds);

// One record from the records of a cell's rounds (in round order, at least one; each already
// judged), for the planned spec `planned`:
//  - timings: each kind's samples of every round concatenated in round order, statistics
//    recomputed (timing_stats); throughput, roofline and noise recomputed from those as the
//    scenario defines them (scenarios.cpp): throughput from the merged median, roofline figures
//    rescaled by old median / new median of the timing they were computed from;
//  - memory: the max over rounds; load_s: the median over rounds;
//  - contention: foreign and steal cores (and the resolution) as the wall-weighted mean over the
//    rounds that know them, wall summed, contended when any round was or the mean is above the
//    bound;
//  - verification: PASS only if every round PASSed (the first failing round's judgement, else
//    the last round's);
//  - status: the first round not `ok` gives the status and its detail (invalid or a failure
//    status wins over ok); else ok;
//  - worker: the last round's outcome, with peak RSS (and peak anonymous memory) the max;
//  - host_load: the first round's "before" and the last round's "after";
//  - interleave_rounds: how many rounds were merged.
// Throws std::invalid_argument when `rounds` is empty.
CellResult merge_rounds(const CellSpec& planned, const std::vector<CellResult>& rounds);

}  // namespace rwkvb
