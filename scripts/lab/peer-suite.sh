#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the upstream vsock peer suite (tools/testing/vsock/vsock_test, built
# from the target's linux-source) between an L2 guest (client, CID 3) and
# L1 (server) over one host module, and write its result as TAP.
#   peer-suite.sh stock|fork OUT.tap
# Runs in L1. The control channel is TCP over QEMU user networking.
set -uo pipefail

WHICH=$1 OUT=$2
R=${LAB_RUN:?}
VT=$BUILD/peer/$KVER/vsock_test
KO=$BUILD/module/$KVER/vhost_vsock_shm.ko
PORT=1234
log=$R/peer-$WHICH

case "$WHICH" in
stock)	mod=vhost_vsock; modprobe vhost_vsock ;;
fork)	mod=vhost_vsock_shm
	modprobe -a kvm vhost vsock vmw_vsock_virtio_transport_common && insmod "$KO" ;;
*)	echo "peer-suite: stock or fork" >&2; exit 2 ;;
esac || { echo "not ok 1 peer/$WHICH: load $mod" > "$OUT"; exit 1; }

"$VT" --mode=server --control-port=$PORT --peer-cid=3 > "$log-server.log" 2>&1 &
server=$!
scripts/lab/l2 -c 3 -N -t 400 -l "$log-l2.log" -- \
	vsock_test --mode=client --control-host=10.0.2.2 \
	--control-port=$PORT --peer-cid=2 > "$log-client.log" 2>&1
crc=$?
# The server ends once the client did; do not wait forever for it.
for _ in $(seq 1 30); do kill -0 $server 2>/dev/null || break; sleep 1; done
kill $server 2>/dev/null
wait $server
src=$?

n=0 fail=0
{
	while IFS=$'\t' read -r id name; do
		[ "$id" = ID ] && continue
		n=$((n + 1))
		if grep -qaF "$id - $name...ok" "$log-l2.log" &&
		   grep -qaF "$id - $name...ok" "$log-server.log"; then
			echo "ok $n peer/$WHICH: $name"
		else
			echo "not ok $n peer/$WHICH: $name"
			fail=$((fail + 1))
		fi
	done < <("$VT" --list 2>/dev/null)
	n=$((n + 1))
	if [ $crc = 0 ] && [ $src = 0 ]; then
		echo "ok $n peer/$WHICH: client and server exit 0"
	else
		echo "not ok $n peer/$WHICH: client and server exit 0 # client $crc, server $src"
	fi
	if [ "$WHICH" = fork ]; then
		n=$((n + 1))
		seen=$(awk '$1 == "pkts_seen" { print $2 }' \
			/sys/kernel/debug/vhost_vsock_shm/stats)
		if [ "${seen:-0}" -gt 0 ]; then
			echo "ok $n peer/fork: the hook saw the guest's packets # $seen"
		else
			echo "not ok $n peer/fork: the hook saw the guest's packets # ${seen:-none}"
		fi
	fi
	echo "1..$n"
} > "$OUT"
cat "$OUT"
rmmod "$mod" || echo "peer-suite: rmmod $mod failed" >&2
