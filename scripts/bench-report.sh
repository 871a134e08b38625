#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Turns the raw measurements of scripts/lab/bench-l1.sh into the ratios of
# docs/performance.md: a table on stdout and JSON in OUT.
#   bench-report.sh RUN_DIR OUT.json
# RUN_DIR holds guest.txt (vshm-guest region lines), server.txt (the
# matching vshm-server bench lines, same order), bench-sink.log and
# chan.txt (chan-bench's lines: the channel figures, under "chan").
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
# A measurement of one page size at 256 MiB, or null when that size did not run.
function num(arr, k) { return (k in arr) ? sprintf("%.3f", arr[k]) : "null" }
function vsx(k) { return (k in shm_ms) ? sprintf("%.3f", ratio(vsock_ms, shm_ms[k])) : "null" }
function txt(s) { return (s == "null") ? "-" : s }
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
	if (!(("4K" in acc_r) || ("2M" in acc_r))) {
		printf("\naccess_ratio, vs_vsock: not measured (256 MiB is not among BENCH_SIZES)\n")
		acc = "null"; vs = "null"
	} else {
		printf("\naccess_ratio (mapped / local, 256 MiB): read 4K %s, write 4K %s, read 2M %s, write 2M %s\n",
		       txt(num(acc_r, "4K")), txt(num(acc_w, "4K")), txt(num(acc_r, "2M")), txt(num(acc_w, "2M")))
		printf("vs_vsock (256 MiB): stream %.1f ms, shared 4K %s ms (%sx), shared 2M %s ms (%sx)\n",
		       vsock_ms, txt(num(shm_ms, "4K")), txt(vsx("4K")), txt(num(shm_ms, "2M")), txt(vsx("2M")))
		acc = sprintf("{\"read_4k\": %s, \"write_4k\": %s, \"read_2m\": %s, \"write_2m\": %s}",
			      num(acc_r, "4K"), num(acc_w, "4K"), num(acc_r, "2M"), num(acc_w, "2M"))
		vs = sprintf("{\"vsock_ms\": %.3f, \"shared_ms_4k\": %s, \"shared_ms_2m\": %s, \"ratio_4k\": %s, \"ratio_2m\": %s}",
			     vsock_ms, num(shm_ms, "4K"), num(shm_ms, "2M"), vsx("4K"), vsx("2M"))
	}
	printf("{\n  \"rows\": [\n") > out
	for (i = 1; i <= NR; i++)
		printf("    %s%s\n", row[i], (i < NR) ? "," : "") > out
	printf("  ],\n") > out
	printf("  \"access_ratio\": %s,\n", acc) > out
	printf("  \"vs_vsock\": %s\n}\n", vs) > out
}'

# The channel figures: each message size through a vshm_chan and through a
# vsock stream, rates and their ratio (channel over stream); the doorbell
# round trip beside a vsock ping-pong (ratio: doorbell over ping-pong).
[ -s "$RUN/chan.txt" ] || exit 0
chan=$(awk '
function f(name,   i, kv) {
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == name)
			return kv[2]
	}
	return ""
}
function rate(n, ms) { return (ms > 0) ? n * 1000 / ms : 0 }
BEGIN {
	printf("\nchannel vs vsock stream (%s):\n", "per second, ratio = channel / stream") > "/dev/stderr"
	printf("%8s %12s %12s %7s %10s %10s %9s\n", "bytes", "chan msg/s", "vsock msg/s",
	       "ratio", "chan MB/s", "vsock MB/s", "doorbells") > "/dev/stderr"
}
$2 ~ /^size=/ {
	cm = rate(f("chan_msgs"), f("chan_ms")); vm = rate(f("vsock_msgs"), f("vsock_ms"))
	cb = rate(f("chan_bytes"), f("chan_ms")) / 1e6; vb = rate(f("vsock_bytes"), f("vsock_ms")) / 1e6
	r = (vm > 0) ? cm / vm : 0
	printf("%8d %12.0f %12.0f %7.2f %10.2f %10.2f %9d\n", f("size"), cm, vm, r, cb, vb,
	       f("doorbells")) > "/dev/stderr"
	row[++n] = sprintf("{\"size\": %d, \"chan_msgs_per_s\": %.1f, \"vsock_msgs_per_s\": %.1f, \"chan_mb_per_s\": %.3f, \"vsock_mb_per_s\": %.3f, \"ratio\": %.3f, \"chan_msgs\": %d, \"vsock_msgs\": %d, \"doorbells\": %d}",
		f("size"), cm, vm, cb, vb, r, f("chan_msgs"), f("vsock_msgs"), f("doorbells"))
}
$2 == "rtt" {
	du = (f("doorbell_n") > 0) ? f("doorbell_ms") * 1000 / f("doorbell_n") : 0
	vu = (f("vsock_n") > 0) ? f("vsock_ms") * 1000 / f("vsock_n") : 0
	rr = (vu > 0) ? du / vu : 0
	printf("round trip: doorbell %.1f us, vsock ping-pong %.1f us (ratio %.2f)\n", du, vu, rr) > "/dev/stderr"
	rtt = sprintf("{\"doorbell_us\": %.2f, \"vsock_us\": %.2f, \"ratio\": %.3f, \"doorbell_n\": %d, \"vsock_n\": %d}",
		du, vu, rr, f("doorbell_n"), f("vsock_n"))
}
END {
	printf("{\"sizes\": [")
	for (i = 1; i <= n; i++)
		printf("%s%s", row[i], (i < n) ? ", " : "")
	printf("], \"rtt\": %s}\n", rtt == "" ? "null" : rtt)
}' "$RUN/chan.txt" 2>&1 >"$RUN/chan.json")
printf '%s\n' "$chan"
jq --slurpfile c "$RUN/chan.json" '. + {chan: $c[0]}' "$OUT" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
