#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make bench": the figures of docs/performance.md, measured in the lab
# (scripts/lab/bench-l1.sh) as ratios taken side by side in one run, written
# to build/bench.json. Not part of "make test": nothing here asserts a time.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
B=${BUILD:-$TOP/build}
# L1 starts with a clean environment: the sizes go in through env.
scripts/lab/l1 -t 3600 -m 6G -n bench -- \
	env BENCH_SIZES="${BENCH_SIZES:-1 4 16 64 256 1024}" BENCH_RAM="${BENCH_RAM:-anon}" \
	scripts/lab/bench-l1.sh
scripts/bench-report.sh "$B/lab/runs/bench" "$B/bench.json"
echo "bench: wrote $B/bench.json"
