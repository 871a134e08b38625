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
#   chan               messages and bytes per second through a vshm_chan over
#                      the same messages through a vsock stream, per message
#                      size (BENCH_CHAN_SIZES bytes, BENCH_CHAN_MS ms each),
#                      and the doorbell round trip beside a vsock ping-pong
#                      (chan-bench in the guest, chan-bench-server here)
# Leaves the raw measurements in $LAB_RUN (guest.txt, server.txt,
# bench-sink.log, chan.txt) for scripts/bench-report.sh.
set -uo pipefail
M=$BUILD/module/$KVER
R=${LAB_RUN:?}
PORT=7200 SPORT=7201 CPORT=7202	# chan-bench-server: CPORT and CPORT + 1
SIZES=${BENCH_SIZES:-"1 4 16 64 256 1024"}
CHAN_SIZES=${BENCH_CHAN_SIZES:-64,4096,65536}
CHAN_MS=${BENCH_CHAN_MS:-2000}
# The guest's RAM: QEMU's default (anon), memfd or hugetlb (scripts/lab/l2).
RAM=${BENCH_RAM:-anon}
GUEST_MIB=2600
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
# Local 2 MiB pages for the populate baseline of the largest 2 MiB share,
# and the guest's RAM if it is hugetlb.
huge=$((1024 / 2 + 16))
[ "$RAM" = hugetlb ] && huge=$((huge + GUEST_MIB / 2))
echo $huge > /proc/sys/vm/nr_hugepages
[ "$(cat /proc/sys/vm/nr_hugepages)" = $huge ] || fail "only $(cat /proc/sys/vm/nr_hugepages) of $huge huge pages"

"$BUILD/host/vshm-server" --port $PORT --bench > "$R/bench-server.log" 2>&1 &
server=$!
"$BUILD/guest/vsock_echo" sink $SPORT > "$R/bench-sink.log" 2>&1 &
sinkp=$!
"$BUILD/host/chan-bench-server" --port $CPORT > "$R/chan-server.log" 2>&1 &
chanp=$!
sleep 0.3
# shellcheck disable=SC2086
scripts/lab/l2 -c 3 -m ${GUEST_MIB}M --ram "$RAM" -t 3000 -- bench-guest.sh $PORT $SPORT \
	$CPORT "$CHAN_SIZES" "$CHAN_MS" $SIZES \
	> "$R/bench-guest.log" 2>&1 || fail "guest: $(tail -3 "$R/bench-guest.log")"
wait $sinkp
kill $server $chanp 2>/dev/null
wait $server $chanp 2>/dev/null

# The raw lines; scripts/bench-report.sh pairs them and computes the ratios.
grep 'vshm-guest: region' "$R/bench-guest.log" > "$R/guest.txt"
grep 'vshm-server: bench region' "$R/bench-server.log" > "$R/server.txt"
[ "$(wc -l < "$R/guest.txt")" = "$(wc -l < "$R/server.txt")" ] || fail "guest and server lines differ"
grep -o 'chan-bench: \(size=\|rtt \).*' "$R/bench-guest.log" > "$R/chan.txt"
grep -q 'chan-bench: rtt ' "$R/chan.txt" || fail "no channel figures"
"$BUILD/host/vsock-shmctl" policy unload > /dev/null
rmmod vsock_shm_mapper vhost_vsock_shm
echo "bench: done"
