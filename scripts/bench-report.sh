#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turns the raw measurements of scripts/lab/bench-l1.sh into the ratios of
# docs/performance.md: a table on stdout and JSON in OUT.
#   bench-report.sh RUN_DIR OUT.json
# RUN_DIR holds guest.txt (vshm-guest region lines), server.txt (the
# matching vshm-server bench lines, same order) and bench-sink.log.
set -euo pipefail
RUN=$1 OUT=$2
paste -d' ' "$RUN/guest.txt" "$RUN/server.txt" |
awk -v sink="$(cat "$RUN/bench-sink.log")" -v out="$OUT" '
function f(name,   i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == name)
			return kv[2]
	}
	return ""
}
function ratio(a, b) { return (b > 0) ? a / b : 0 }
BEGIN {
	n = split(sink, sw, /[ =]/)
	for (i = 1; i < n; i++)
		if (sw[i] == "ms")
			vsock_ms = sw[i + 1]
	printf("%8s %4s %8s %8s %8s %10s %11s %10s %7s %7s %9s %9s\n",
	       "MiB", "page", "pages", "extents", "runs", "share ms", "populate ms",
	       "share/pop", "read", "write", "us/page", "us/extent")
}
{
	mib = f("size") / 1048576
	page = (f("page") == 2097152) ? "2M" : "4K"
	share = f("share_ms"); pop = f("populate_ms")
	rr = ratio(f("read_mapped_gbs"), f("read_local_gbs"))
	wr = ratio(f("write_mapped_gbs"), f("write_local_gbs"))
	upp = ratio(share * 1000, f("pages")); upe = ratio(share * 1000, f("extents"))
	printf("%8d %4s %8d %8d %8d %10.2f %11.2f %10.2f %7.3f %7.3f %9.3f %9.2f\n",
	       mib, page, f("pages"), f("extents"), f("runs"), share, pop,
	       ratio(share, pop), rr, wr, upp, upe)
	row[NR] = sprintf("{\"mib\": %d, \"page\": \"%s\", \"pages\": %d, \"extents\": %d, \"host_runs\": %d, \"share_ms\": %s, \"pin_ms\": %s, \"map_ms\": %s, \"populate_ms\": %s, \"local_huge\": %d, \"share_vs_populate\": %.3f, \"read_ratio\": %.3f, \"write_ratio\": %.3f, \"share_us_per_page\": %.3f, \"share_us_per_extent\": %.3f}",
		mib, page, f("pages"), f("extents"), f("runs"), share, f("pin_ms"),
		f("map_ms"), pop, f("local_huge"), ratio(share, pop), rr, wr, upp, upe)
	if (mib == 256) {
		# 256 MiB through the region: the guest writes it, the host reads it.
		shm_ms[page] = f("fill_ms") + ratio(268435456, f("read_mapped_gbs")) / 1e6
		acc_r[page] = rr
		acc_w[page] = wr
	}
}
END {
	printf("\naccess_ratio (mapped / local, 256 MiB): read 4K %.3f, write 4K %.3f, read 2M %.3f, write 2M %.3f\n",
	       acc_r["4K"], acc_w["4K"], acc_r["2M"], acc_w["2M"])
	printf("vs_vsock (256 MiB): stream %.1f ms, shared 4K %.1f ms (%.1fx), shared 2M %.1f ms (%.1fx)\n",
	       vsock_ms, shm_ms["4K"], ratio(vsock_ms, shm_ms["4K"]), shm_ms["2M"],
	       ratio(vsock_ms, shm_ms["2M"]))
	printf("{\n  \"rows\": [\n") > out
	for (i = 1; i <= NR; i++)
		printf("    %s%s\n", row[i], (i < NR) ? "," : "") > out
	printf("  ],\n") > out
	printf("  \"access_ratio\": {\"read_4k\": %.3f, \"write_4k\": %.3f, \"read_2m\": %.3f, \"write_2m\": %.3f},\n",
	       acc_r["4K"], acc_w["4K"], acc_r["2M"], acc_w["2M"]) > out
	printf("  \"vs_vsock\": {\"vsock_ms\": %.3f, \"shared_ms_4k\": %.3f, \"shared_ms_2m\": %.3f, \"ratio_4k\": %.3f, \"ratio_2m\": %.3f}\n}\n",
	       vsock_ms, shm_ms["4K"], shm_ms["2M"], ratio(vsock_ms, shm_ms["4K"]),
	       ratio(vsock_ms, shm_ms["2M"])) > out
}'
