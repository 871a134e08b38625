#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The L1 side of "make demo" (see scripts/demo.sh): vhost_vsock_shm and the
# mapper in place of vhost_vsock, the default policy, vshm-server on the
# host; an L2 guest shares 64 MiB of 4 KiB pages and 64 MiB of 2 MiB pages.
# Each side writes a pattern and checks the other's; both free; the host's
# pins must be back where they started.
set -uo pipefail
M=$BUILD/module/$KVER
PORT=7000
R=${LAB_RUN:-/tmp}
pins() {
	awk '$1 == "nr_foll_pin_acquired" { a = $2 } $1 == "nr_foll_pin_released" { r = $2 }
	     END { print a - r }' /proc/vmstat
}
fail() { echo "demo: FAILED: $*"; exit 1; }

modprobe kvm_amd || fail "kvm_amd does not load"
modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common
insmod "$M/vhost_vsock_shm.ko" || fail "vhost_vsock_shm does not load"
insmod "$M/vsock_shm_mapper.ko" || fail "vsock_shm_mapper does not load"
echo "demo: vhost_vsock_shm serves /dev/vhost-vsock ($(cat /sys/class/misc/vhost-vsock/dev))"
"$BUILD/host/vsock-shmctl" policy load default || fail "policy load"
base=$(pins)

"$BUILD/host/vshm-server" --port $PORT > "$R/demo-server.log" 2>&1 &
server=$!
sleep 0.3
echo "demo: guest CID 3 shares with vshm-server on port $PORT..."
scripts/lab/l2 -c 3 -m 512M -t 600 -- demo-guest.sh $PORT > "$R/demo-guest.log" 2>&1
grc=$?
kill $server 2>/dev/null
wait $server 2>/dev/null
sed -n 's/^\[l2:3\] //p' "$R/demo-guest.log" | grep -v '^l2-init'
grep 'vshm-server: region' "$R/demo-server.log"
[ $grc = 0 ] || fail "the guest failed (exit $grc)"
! grep -q 'check=FAILED' "$R/demo-server.log" || fail "the host saw a wrong pattern"

field() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"; }
echo
printf 'demo: %-9s %-6s %7s %8s %10s %20s %8s %9s\n' size pages page extents host-runs \
	"translate+pin ms" "map ms" "share ms"
for i in 1 2; do
	g=$(grep 'vshm-guest: region' "$R/demo-guest.log" | sed -n "${i}p")
	s=$(grep 'check=ok' "$R/demo-server.log" | sed -n "${i}p")
	[ -n "$g" ] && [ -n "$s" ] || fail "region $i is missing from the logs"
	page=4KiB; [ $i = 2 ] && page=2MiB
	printf 'demo: %-9s %-6s %7s %8s %10s %20s %8s %9s\n' \
		"$(($(echo "$g" | field size) >> 20))MiB" "$(echo "$g" | field pages)" "$page" \
		"$(echo "$g" | field extents)" "$(echo "$s" | field runs)" \
		"$(echo "$s" | field pin_ms)" "$(echo "$s" | field map_ms)" \
		"$(echo "$g" | field share_ms)"
done
echo
now=$(pins)
echo "demo: host pins before $base, after $now"
[ "$now" = "$base" ] || fail "pins leaked"
"$BUILD/host/vsock-shmctl" policy unload
rmmod vsock_shm_mapper vhost_vsock_shm || fail "modules do not unload"
echo "demo: OK"
