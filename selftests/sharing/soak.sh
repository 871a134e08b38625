#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak: share/free cycles across 4 L2 guests at once (CIDs 3-6), 4 KiB pages
# on two of them and 2 MiB pages on the other two, with plain vsock traffic
# (vsock_echo round trips) beside them on a fifth connection. Afterwards:
# every cycle done, the host's pins and memory back to their baseline, and
# no error. Writes TAP to OUT.
#   selftests/sharing/soak.sh OUT.tap [CYCLES]   (total cycles, default 1000)
set -uo pipefail

OUT=$1 SUITE=soak
. "$(dirname "$0")/../lib.sh"
CYCLES=${2:-1000}
PORT=7300 EPORT=7301
per=$(((CYCLES + 3) / 4))

avail_kb() { awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo; }

modprobe kvm_amd
modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common
insmod "$M/vhost_vsock_shm.ko" && insmod "$M/vsock_shm_mapper.ko" &&
	"$CTL" policy load default > /dev/null || {
	emit "not ok" "setup"
	tap_plan
	exit 1
}
base_pins=$(pins)
tr0=$(counter lists_translated) ref0=$(counter lists_refused)
"$BUILD/host/vshm-server" --port $PORT --max-conns 64 > "$R/soak-server.log" 2>&1 &
server=$!
"$BUILD/guest/vsock_echo" server $EPORT > "$R/soak-echo.log" 2>&1 &
echo_srv=$!
sleep 0.3
# Settle before the memory baseline: the first guest boot loads programs.
base_avail=$(avail_kb)

pids=()
for cid in 3 4 5 6; do
	huge=
	[ $((cid % 2)) = 0 ] && huge=--huge
	# shellcheck disable=SC2086
	scripts/lab/l2 -c $cid -m 256M -t 1800 -l "$R/soak-l2-$cid.log" -- \
		vshm-guest share --port $PORT --size 2M $huge --repeat $per --quiet \
		> "$R/soak-guest-$cid.log" 2>&1 &
	pids+=($!)
done
scripts/lab/l2 -c 7 -m 256M -t 1800 -l "$R/soak-l2-7.log" -- \
	vsock_echo client 2 $EPORT 2000 > "$R/soak-echo-guest.log" 2>&1 &
echo_guest=$!

fails=0
for i in 0 1 2 3; do
	wait "${pids[$i]}" || fails=$((fails + 1))
done
wait $echo_guest
erc=$?
kill $server $echo_srv 2>/dev/null
wait $server $echo_srv 2>/dev/null

check "four_guests_${per}_cycles_each" eq "$fails" 0 "guests failed"
check every_cycle_reported bash -c "[ \$(grep -l 'repeat: $per cycles' $R/soak-guest-*.log | wc -l) = 4 ]"
check plain_vsock_beside eq "$erc" 0 "vsock_echo"
check translated_once_per_cycle eq "$(($(counter lists_translated) - tr0))" "$((per * 4))" "translated"
check none_refused eq "$(($(counter lists_refused) - ref0))" 0 "refused"
check pin_delta_zero eq "$(pins)" "$base_pins" "pins"
sleep 2
# Memory back: within 32 MiB of the baseline (page cache and slab move a little).
now_avail=$(avail_kb)
check memory_back_to_baseline test $((base_avail - now_avail)) -lt 32768
"$CTL" policy unload > /dev/null
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
tap_plan
