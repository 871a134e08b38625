#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The L1 side of "make demo" (see scripts/demo.sh).
set -euo pipefail
KO=$BUILD/module/$KVER/vhost_vsock_shm.ko
STATS=/sys/kernel/debug/vhost_vsock_shm/stats

modprobe kvm_amd
modprobe -a vhost vsock vmw_vsock_virtio_transport_common
insmod "$KO"
echo "demo: vhost_vsock_shm loaded, /dev/vhost-vsock is $(cat /sys/class/misc/vhost-vsock/dev)"
"$BUILD/guest/vsock_echo" server 5000 &
server=$!
sleep 0.5
before=$(awk '$1 == "pkts_seen" { print $2 }' "$STATS")
scripts/lab/l2 -c 3 -t 300 -- vsock_echo client 2 5000 1000
after=$(awk '$1 == "pkts_seen" { print $2 }' "$STATS")
kill $server
echo "demo: the fork's hook saw $((after - before)) guest-to-host packets"
cat "$STATS" | sed 's/^/demo:   /'
[ $((after - before)) -ge 1000 ] || { echo "demo: FAILED (too few packets seen)"; exit 1; }
rmmod vhost_vsock_shm
echo "demo: OK"
