#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest: the sharing cases that end in a mapped, checked and freed
# region. TAP on stdout. Usage: guest-share.sh PORT
port=$1
n=0
step() {
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $name"; else echo "not ok $n $name"; fi
}
step share_4k_pages_4MiB vshm-guest share --port "$port" --size 4M
step share_2m_pages_8MiB vshm-guest share --port "$port" --size 8M --huge
step gpas_stable_across_compaction vshm-guest share --port "$port" --size 4M --compact-check
step three_live_regions_freed_in_reverse vshm-guest share --port "$port" --size 1M --count 3
echo "1..$n"
