#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The L1 side of "make bench" (see scripts/bench.sh). Every figure is a
# ratio of two measurements taken in this run, side by side:
#   share_vs_populate  guest request -> host pointer (the guest's share time)
#                      over mmap(MAP_POPULATE) of as much local memory with
#                      the same page size in L1
#   access_ratio       host read and rewrite bandwidth on the mapping over
#                      the same on local memory
#   vs_vsock           256 MiB through a vsock stream over 256 MiB through a
#                      shared region (the guest writes it, the host reads it)
#   growth             share time per page and per extent, 1 MiB to 1 GiB
# Leaves the raw measurements in $LAB_RUN (guest.txt, server.txt,
# bench-sink.log) for scripts/bench-report.sh.
set -uo pipefail
M=$BUILD/module/$KVER
R=${LAB_RUN:?}
PORT=7200 SPORT=7201
SIZES=${BENCH_SIZES:-"1 4 16 64 256 1024"}
fail() {
	echo "bench: FAILED: $*"
	kill $(jobs -p) 2>/dev/null
	wait
	exit 1
}

modprobe kvm_amd || fail "kvm_amd"
modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common
insmod "$M/vhost_vsock_shm.ko" && insmod "$M/vsock_shm_mapper.ko" || fail "modules"
"$BUILD/host/vsock-shmctl" policy load default > /dev/null || fail "policy"
# Local 2 MiB pages for the populate baseline of the largest 2 MiB share.
echo $((1024 / 2 + 16)) > /proc/sys/vm/nr_hugepages

"$BUILD/host/vshm-server" --port $PORT --bench > "$R/bench-server.log" 2>&1 &
server=$!
"$BUILD/guest/vsock_echo" sink $SPORT > "$R/bench-sink.log" 2>&1 &
sinkp=$!
sleep 0.3
# shellcheck disable=SC2086
scripts/lab/l2 -c 3 -m 2600M -t 3000 -- bench-guest.sh $PORT $SPORT $SIZES \
	> "$R/bench-guest.log" 2>&1 || fail "guest: $(tail -3 "$R/bench-guest.log")"
wait $sinkp
kill $server 2>/dev/null
wait $server 2>/dev/null

# The raw lines; scripts/bench-report.sh pairs them and computes the ratios.
grep 'vshm-guest: region' "$R/bench-guest.log" > "$R/guest.txt"
grep 'vshm-server: bench region' "$R/bench-server.log" > "$R/server.txt"
[ "$(wc -l < "$R/guest.txt")" = "$(wc -l < "$R/server.txt")" ] || fail "guest and server lines differ"
cat "$R/bench-sink.log")" '
function f(name,   i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == name)
			return kv[2]
	}
	return ""
}
BEGIN {
	split(sink, sw, /[ =]/)
	for (i in sw) if (sw[i] == "ms") vsock_ms = sw[i + 1]
}
{
	mib = f("size") / 1048576
	page = f("page") == 2097152 ? "2M" : "4K"
	share = f("share_ms"); pop = f("populate_ms")
	row[NR] = sprintf("{\"mib\":%d,\"page\":\"%s\",\"pages\":%d,\"extents\":%d,\"host_runs\":%d,\"share_ms\":%s,\"pin_ms\":%s,\"map_ms\":%s,\"populate_ms\":%s,\"share_vs_populate\":%.3f,\"read_ratio\":%.3f,\"write_ratio\":%.3f,\"share_us_per_page\":%.3f,\"share_us_per_extent\":%.3f,\"local_huge\":%d}",
		mib, page, f("pages"), f("extents"), f("runs"), share, f("pin_ms"), f("map_ms"), pop,
		pop > 0 ? share / pop : 0,
		f("read_local_gbs") > 0 ? f("read_mapped_gbs") / f("read_local_gbs") : 0,
		f("write_local_gbs") > 0 ? f("write_mapped_gbs") / f("write_local_gbs") : 0,
		share * 1000 / f("pages"), share * 1000 / f("extents"), f("local_huge"))
	printf "bench: %6d MiB %s pages=%-7d extents=%-6d runs=%-6d share_ms=%-9.2f populate_ms=%-8.2f share/populate=%-6.2f read=%.2f write=%.2f\n",
		mib, page, f("pages"), f("extents"), f("runs"), share, pop, pop > 0 ? share / pop : 0,
		f("read_local_gbs") > 0 ? f("read_mapped_gbs") / f("read_local_gbs") : 0,
		f("write_local_gbs") > 0 ? f("write_mapped_gbs") / f("write_local_gbs") : 0 > "/dev/stderr"
	if (mib == 256) {
		# 256 MiB through the region: the guest writes it, the host reads it.
		shm_ms[page] = f("fill_ms") + 268435456 / f("read_mapped_gbs") / 1e6
		access_r[page] = f("read_mapped_gbs") / f("read_local_gbs")
		access_w[page] = f("write_mapped_gbs") / f("write_local_gbs")
	}
}
END {
	printf "{\n  \"rows\": [\n"
	for (i = 1; i <= NR; i++)
		printf "    %s%s\n", row[i], i < NR ? "," : ""
	printf "  ],\n"
	printf "  \"access_ratio\": {\"read_4k\": %.3f, \"write_4k\": %.3f, \"read_2m\": %.3f, \"write_2m\": %.3f},\n",
		access_r["4K"], access_w["4K"], access_r["2M"], access_w["2M"]
	printf "  \"vs_vsock\": {\"vsock_ms\": %s, \"shared_ms_4k\": %.3f, \"shared_ms_2m\": %.3f, \"ratio_4k\": %.3f, \"ratio_2m\": %.3f}\n",
		vsock_ms, shm_ms["4K"], shm_ms["2M"],
		shm_ms["4K"] > 0 ? vsock_ms / shm_ms["4K"] : 0, shm_ms["2M"] > 0 ? vsock_ms / shm_ms["2M"] : 0
	printf "}\n"
}' > "$R/bench.json" || fail "report"
"$BUILD/host/vsock-shmctl" policy unload > /dev/null
rmmod vsock_shm_mapper vhost_vsock_shm
echo "bench: done"
