#!/usr/bin/env bash
# Statistical power of `rwkvbench compare`, end to end with the real binary (not run in CI: a few
# minutes). PAIRS times: a BASE run of the `slow` test plugin (the golden reference whose forward()
# sleeps until sleep_us after it was entered, tests/fault_plugins/slow.c) at SLEEP_US, a CAND run
# at the same SLEEP_US and a CAND' run at 1.10 x SLEEP_US, then `compare BASE CAND` and
# `compare BASE CAND'`. Prints the detection rate of the 10% slowdown (exit 5 / PAIRS; the goal
# is >= 19/20) and the false-positive rate of same against same (exit 5 / PAIRS; goal <= 1/20).
# Exits 0 when both goals are met, 1 when not, 2 on a usage or run error.
#
# Usage: benchmarks/compare_power.sh [BUILD_DIR]        (default build/release)
#   needs: cmake --build BUILD_DIR --target rwkvbench rwkvb_fault_plugins
# Environment: PAIRS (20), SLEEP_US (10000), TOKENS (4), REPETITIONS (10), WORKLOAD (rwkv7-tiny),
#   KEEP=1 keeps the scratch directory (run directories, logs, comparisons).
# SLEEP_US: on a loaded host a wake-up now and then comes 2-4 ms late; that must stay well under
# 10% of a repetition (TOKENS x SLEEP_US) or compare calls the cell noisy and gives no verdict.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/release}
pairs=${PAIRS:-20}
sleep_us=${SLEEP_US:-10000}
tokens=${TOKENS:-4}
reps=${REPETITIONS:-10}
workload=${WORKLOAD:-rwkv7-tiny}
slower_us=$(( (sleep_us * 110 + 50) / 100 ))
bin=$build/bin/rwkvbench
plugin=$build/tests/fault_plugins/librwkvb_slow.so
for f in "$bin" "$plugin"; do
    if [[ ! -e $f ]]; then
        echo "compare_power: $f is missing; build it: cmake --build $build --target rwkvbench rwkvb_fault_plugins" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rwkvb_compare_power.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then echo "scratch directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
export RWKVBENCH_CACHE_DIR=$work/cache  # synthetic weights and golden logits, made by the first run

# run NAME SLEEP_US: one decode cell of the slow plugin into $work/NAME.
run() {
    if ! "$bin" run --plugin "$plugin" -b slow -w "$workload" -s decode --skip-limits --threads 1 \
        --tokens "$tokens" --repetitions "$reps" --warmup 1 --min-time 0 --target-ci 0 --plugin-options "sleep_us=$2" \
        --dir "$work/$1" >"$work/$1.log" 2>&1; then
        echo "compare_power: rwkvbench run for $1 (sleep_us=$2) failed; its output:" >&2
        cat "$work/$1.log" >&2
        exit 2
    fi
}

# judge BASE CAND OUT: compare's exit code in $code, and "verdict change" of its one cell in $what.
judge() {
    code=0
    "$bin" compare "$work/$1" "$work/$2" --format json -o "$work/$3.json" >/dev/null 2>"$work/$3.err" || code=$?
    if [[ $code != 0 && $code != 5 ]]; then
        echo "compare_power: compare $1 $2 exited $code:" >&2
        cat "$work/$3.err" >&2
        exit 2
    fi
    local verdict ratio
    verdict=$(grep -o '"verdict": "[^"]*"' "$work/$3.json" | head -1 | cut -d'"' -f4 || true)
    ratio=$(grep -o '"speed_ratio": [-0-9.eE+]*' "$work/$3.json" | head -1 | awk '{printf "%+.1f%%", ($2 - 1) * 100}' || true)
    what="$verdict ${ratio:-?}"
}

echo "rwkvbench compare power: $pairs pairs of $workload decode, $tokens tokens x $reps repetitions (+1 warm-up),"
echo "  forward padded to sleep_us=$sleep_us (BASE, CAND) and $slower_us (CAND', +10%), threads 1"
echo "host:  $(hostname), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs"
echo "date:  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "load:  $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
echo "binary: $bin"
echo

detected=0 false_pos=0 noisy=0
start=$SECONDS
for ((i = 1; i <= pairs; i++)); do
    # Alternate which candidate runs first, so that a drift of the host's load over a pair does
    # not always favour the same one.
    run "base$i" "$sleep_us"
    if ((i % 2)); then
        run "same$i" "$sleep_us"
        run "slower$i" "$slower_us"
    else
        run "slower$i" "$slower_us"
        run "same$i" "$sleep_us"
    fi
    judge "base$i" "same$i" "cmp_same$i"
    same_code=$code same_what=$what
    judge "base$i" "slower$i" "cmp_slower$i"
    slower_code=$code slower_what=$what
    ((same_code == 5)) && false_pos=$((false_pos + 1))
    ((slower_code == 5)) && detected=$((detected + 1))
    [[ $same_what == noisy* ]] && noisy=$((noisy + 1))
    [[ $slower_what == noisy* ]] && noisy=$((noisy + 1))
    printf 'pair %2d: same vs same: exit %d (%s)   +10%%: exit %d (%s)\n' "$i" "$same_code" "$same_what" \
        "$slower_code" "$slower_what"
done

echo
echo "load:  $(cut -d' ' -f1-3 /proc/loadavg) at the end; $((SECONDS - start)) s for $((3 * pairs)) runs"
echo "noisy verdicts (no verdict: CV above 10%): $noisy of $((2 * pairs)) comparisons"
echo "detection rate of a 10% slowdown (exit 5): $detected/$pairs (goal >= $(( (pairs * 19 + 19) / 20 ))/$pairs)"
echo "false-positive rate, same vs same (exit 5): $false_pos/$pairs (goal <= $(( pairs / 20 ))/$pairs)"
if ((detected * 20 >= 19 * pairs && false_pos * 20 <= pairs)); then
    echo "goals met"
else
    echo "goals NOT met"
    exit 1
fi
