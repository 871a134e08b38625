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
# More 2 MiB pages than are free: the library reserves none (it never
# changes a system setting) and says how to.
huge_without_reserve_fails_with_hint() {
	hp=/sys/kernel/mm/hugepages/hugepages-2048kB
	before=$(cat /proc/sys/vm/nr_hugepages)
	avail=$(($(cat $hp/free_hugepages) - $(cat $hp/resv_hugepages)))
	out=$(vshm-guest share --port "$port" --size $(((avail + 1) * 2))M \
		--huge 2>&1) && { echo "# shared: $out"; return 1; }
	echo "$out" | sed 's/^/# /'
	echo "$out" | grep -q "not enough free 2 MiB huge pages: needs $((avail + 1))" &&
		echo "$out" | grep -q "nr_hugepages" &&
		[ "$(cat /proc/sys/vm/nr_hugepages)" = "$before" ]
}
step share_4k_pages_4MiB vshm-guest share --port "$port" --size 4M
step huge_without_reserve_fails_with_hint huge_without_reserve_fails_with_hint
step share_2m_pages_8MiB vshm-guest share --port "$port" --size 8M --huge --reserve-huge
step share_hugetlb_memfd_8MiB vshm-guest share --port "$port" --size 8M --hugetlb-memfd --reserve-huge
step share_own_2m_buffer_4MiB vshm-guest share --port "$port" --size 4M --buf --huge --reserve-huge
step gpas_stable_across_compaction vshm-guest share --port "$port" --size 4M --compact-check
step three_live_regions_freed_in_reverse vshm-guest share --port "$port" --size 1M --count 3
echo "1..$n"
