#!/usr/bin/env bash
# What a chip maker does: install rwkvbench, copy backends/template out of the tree, build it
# against the installed SDK (find_package(rwkvbench_plugin_sdk)), and certify it through the
# installed harness: a parity cell that must PASS (exit 0).
# usage: sdk_out_of_tree.sh <rwkvbench build dir> <rwkvbench source dir> <scratch dir>
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
test -f "$work/prefix/include/rwkvbench/backend.h"
cp -r "$src/backends/template" "$work/vendor-plugin"
cmake -S "$work/vendor-plugin" -B "$work/vendor-build" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
cmake --build "$work/vendor-build" >"$work/build.log"
plugin="$work/vendor-build/librwkvb_template.so"
test -f "$plugin"
RWKVBENCH_CACHE_DIR="$work/cache" "$work/prefix/bin/rwkvbench" run --plugin "$plugin" \
    --backend template --workload rwkv7-tiny --scenario parity --dir "$work/run" --format json \
    -o "$work/results.json"
grep -q '"template"' "$work/results.json"
echo "out-of-tree template plugin: parity PASS through the installed harness"
