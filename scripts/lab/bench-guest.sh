#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The guest side of "make bench": shares of growing size with 4 KiB and
# 2 MiB pages, then 256 MiB through a vsock stream, then the channel
# figures (chan-bench against chan-bench-server: messages of each of
# CHAN_SIZES bytes through a vshm_chan and through a vsock stream for
# CHAN_MS ms each, doorbell round trips and vsock ping-pongs).
# Usage: bench-guest.sh PORT STREAM_PORT CHAN_PORT CHAN_SIZES CHAN_MS SIZES_MIB...
port=$1 sport=$2 cport=$3 csizes=$4 cms=$5
shift 5
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
chan-bench --port "$cport" --sizes "$csizes" --ms "$cms" || exit 1
