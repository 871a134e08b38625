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

# mem_snapshot: /proc/meminfo once caches are dropped, so that what is
# compared is memory nobody can take back (page cache and reclaimable slab
# move with whatever else ran in L1 meanwhile).
mem_snapshot() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
	cat /proc/meminfo
}
no_qemu() { ! pidof qemu-system-x86_64 > /dev/null; }
# mem_field SNAPSHOT FIELD: one field of a snapshot, in kB.
mem_field() { awk -v f="$2:" '$1 == f { print $2 }' <<< "$1"; }
# mem_explain BEFORE AFTER: the fields that moved by 1 MiB or more.
mem_explain() {
	local f b a
	for f in MemFree MemAvailable Cached Shmem AnonPages Mapped SReclaimable \
		 SUnreclaim KernelStack PageTables Percpu VmallocUsed \
		 AnonHugePages HugePages_Total Unevictable Mlocked; do
		b=$(mem_field "$1" $f) a=$(mem_field "$2" $f)
		if [ -z "$b" ] || [ -z "$a" ]; then continue; fi
		[ $((a - b)) -ge 1024 ] || [ $((b - a)) -ge 1024 ] &&
			echo "# $f: $b -> $a kB"
	done
}

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
base_mem=$(mem_snapshot)

pids=()
for cid in 3 4 5 6; do
	huge=
	[ $((cid % 2)) = 0 ] && huge="--huge --reserve-huge"
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
# Memory back: within 32 MiB of the baseline. A reference the module kept
# on one 2 MiB region a cycle would keep 100 MiB of guest RAM past QEMU's end.
wait_for 10 no_qemu
now_mem=$(mem_snapshot)
lost=$(($(mem_field "$base_mem" MemAvailable) - $(mem_field "$now_mem" MemAvailable)))
echo "# memory: $lost kB less available than before the guests"
mem_explain "$base_mem" "$now_mem"
check memory_back_to_baseline test "$lost" -lt 32768
"$CTL" policy unload > /dev/null
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
tap_plan
