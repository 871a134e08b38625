#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make bench": the figures of docs/performance.md, measured in the lab
# (scripts/lab/bench-l1.sh) as ratios taken side by side in one run. Not
# part of "make test": nothing here asserts a time.
#
# Every kernel of BENCH_KERNELS (default: "default backports", the 6.1 of
# linux-image-amd64 and the newest 6.12 of bookworm-backports; a KVER given
# to make picks that one only) is measured in turn, one L1 at a time, into
# build/bench/<abi>.json; build/bench.json holds them all by ABI, and the
# last tables put the headline ratios of the kernels side by side (the
# channel figures' message sizes: BENCH_CHAN_SIZES, default 64,4096,65536
# bytes, each measured for BENCH_CHAN_MS ms, default 2000).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
B=${BUILD:-$TOP/build}
KERNELS=${BENCH_KERNELS:-${KVER:-default backports}}
mkdir -p "$B/bench"

abis=()
for kv in $KERNELS; do
	[ "$kv" = default ] && kv=
	abi=$(KVER=$kv scripts/kernel.sh | sed -n 's/^KVER=//p')
	# make all built the default kernel (or KVER's); the others here.
	make -s KVER="$abi" modules lab
	abis+=("$abi")
done

for abi in "${abis[@]}"; do
	echo "=== bench on $abi"
	# L1 starts with a clean environment: the sizes go in through env.
	KVER=$abi scripts/lab/l1 -t 3600 -m 6G -n "bench-$abi" -- \
		env BENCH_SIZES="${BENCH_SIZES:-1 4 16 64 256 1024}" BENCH_RAM="${BENCH_RAM:-anon}" \
		BENCH_CHAN_SIZES="${BENCH_CHAN_SIZES:-64,4096,65536}" \
		BENCH_CHAN_MS="${BENCH_CHAN_MS:-2000}" scripts/lab/bench-l1.sh
	scripts/bench-report.sh "$B/lab/runs/bench-$abi" "$B/bench/$abi.json"
done

# All kernels in one JSON object, and their headline ratios side by side.
{
	printf '{'
	sep=
	for abi in "${abis[@]}"; do
		printf '%s\n  "%s": ' "$sep" "$abi"
		sed 's/^/  /' "$B/bench/$abi.json" | sed '1s/^  //'
		sep=,
	done
	printf '}\n'
} > "$B/bench.json.tmp"
jq . "$B/bench.json.tmp" > /dev/null && mv "$B/bench.json.tmp" "$B/bench.json"
echo
echo "Side by side (each ratio from its own kernel's run):"
printf '  %-22s %8s %8s %8s %8s %9s %9s\n' kernel "s/p 4K" "s/p 2M" \
	"read 4K" "read 2M" "vsock 4K" "vsock 2M"
for abi in "${abis[@]}"; do
	jq -r --arg k "$abi" '
		def r(p; m): [.rows[] | select(.page == p and .mib == m)][0].share_vs_populate // null;
		def n(x): if x == null then "-" else (x * 100 | round / 100 | tostring) end;
		[$k, n(r("4K"; 256)), n(r("2M"; 256)), n(.access_ratio.read_4k),
		 n(.access_ratio.read_2m), n(.vs_vsock.ratio_4k), n(.vs_vsock.ratio_2m)]
		| @tsv' "$B/bench/$abi.json" |
		awk -F'\t' '{ printf "  %-22s %8s %8s %8s %8s %9s %9s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
echo "(share_vs_populate and access_ratio at 256 MiB; vs_vsock: stream time over shared time)"
echo
echo "Channels (vshm_chan over a vsock stream, messages per second; rtt: doorbell over ping-pong):"
printf '  %-22s %9s %9s %9s %9s\n' kernel "64 B" "4 KiB" "64 KiB" "rtt"
for abi in "${abis[@]}"; do
	jq -r --arg k "$abi" '
		def s(b): [(.chan.sizes // [])[] | select(.size == b)][0].ratio // null;
		def n(x): if x == null then "-" else (x * 100 | round / 100 | tostring) end;
		[$k, n(s(64)), n(s(4096)), n(s(65536)), n(.chan.rtt.ratio)] | @tsv' "$B/bench/$abi.json" |
		awk -F'\t' '{ printf "  %-22s %9s %9s %9s %9s\n", $1, $2, $3, $4, $5 }'
done
echo "bench: wrote $B/bench.json"
