#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest side of "make bench": shares of growing size with 4 KiB and
# 2 MiB pages, then 256 MiB through a vsock stream.
# Usage: bench-guest.sh PORT STREAM_PORT SIZES_MIB...
port=$1 sport=$2
shift 2
for n in "$@"; do
	# Hold each region while the host measures its bandwidth on it.
	hold=$((2000 + 40 * n))
	vshm-guest share --port "$port" --size "${n}M" --timeout-ms 600000 \
		--hold-ms $hold || exit 1
	h=$n
	[ "$h" -lt 2 ] && h=2	# the smallest 2 MiB-page region
	vshm-guest share --port "$port" --size "${h}M" --huge --reserve-huge --timeout-ms 600000 \
		--hold-ms $hold || exit 1
done
vsock_echo blast 2 "$sport" 256 || exit 1
