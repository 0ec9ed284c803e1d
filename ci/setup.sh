#!/usr/bin/env bash
# Everything before a run: install missing Debian packages, configure and build the release
# preset. Safe to repeat; a second call only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
