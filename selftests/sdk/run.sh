#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The application SDK end to end, in L1 with L2 guests (issue 12): the
# guest daemon serving unprivileged applications (guest-guestd.sh), with
# the host's vshm-server checking and marking what they share. After each
# case the host's pins are back where they were. Writes TAP to OUT.
#   selftests/sdk/run.sh OUT.tap
set -uo pipefail

OUT=$1 SUITE=sdk
. "$(dirname "$0")/../lib.sh"
SERVER=$BUILD/host/vshm-server
PORT=7100

pins_at_base() {
	local p
	p=$(pins)
	[ "$p" = "$BASE" ] && return 0
	echo "# pins $p (base $BASE)"
	return 1
}
# guest_tap NAME CMD...: runs a guest on CID 3; its TAP lines become ours,
# prefixed with NAME, numbered in order here.
guest_tap() {
	local name=$1 log=$R/sdk-l2-$1.log
	shift
	scripts/lab/l2 -c 3 -m 512M -t 400 -- "$@" > "$log" 2>&1
	local rc=$?
	echo "# guest $name exited $rc"
	if [ $rc -ge 124 ] || ! grep -q '^\[l2:3\] 1\.\.[0-9]' "$log"; then
		emit "not ok" "$name: the guest ended without its results (exit $rc)"
	fi
	sed -n 's/^\[l2:3\] \(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' "$log" > "$R/sdk-$name.results"
	while IFS='|' read -r verdict rest; do
		emit "$verdict" "$rest"
	done < "$R/sdk-$name.results"
	grep '^\[l2:3\] #' "$log" | tail -40
}
start_server() {
	"$SERVER" --port $PORT > "$R/sdk-server-$1.log" 2>&1 &
	SERVER_PID=$!
	sleep 0.3
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }

modprobe kvm_amd
modprobe -a vhost vsock vmw_vsock_virtio_transport_common
check modules_load bash -c "insmod $M/vhost_vsock_shm.ko && insmod $M/vsock_shm_mapper.ko"
check policy_loads "$CTL" policy load default
BASE=$(pins)

# 1. The guest daemon and its unprivileged clients.
start_server guestd
guest_tap guestd guest-guestd.sh $PORT
stop_server
L=$R/sdk-server-guestd.log
# The host saw both regions, checked, from the daemon's privileged port,
# with the application's cookie, and no mismatch.
check guestd_host_checked_both bash -c "[ \$(grep -c 'check=ok' '$L') = 2 ]"
check guestd_cookie_reached_the_host grep -q 'cookie=0x5eed' "$L"
check guestd_shared_from_a_privileged_port bash -c \
	"grep 'check=ok' '$L' | sed -n 's/.*peer=[0-9]*:\([0-9]*\).*/\1/p' | awk '\$1 >= 1024 { bad = 1 } END { exit bad }'"
check guestd_no_mismatch bash -c "! grep -q mismatch '$L'"
check guestd_pins_back pins_at_base

check policy_unloads "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
check pins_at_baseline_at_end test "$(pins)" = "$BASE"
tap_plan
