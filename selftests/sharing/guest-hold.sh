#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest: share SIZE on PORT, wait until it is mapped, then end in
# the way MODE says while the region is live:
#   kill      SIGKILL the guest client (its connection is reset)
#   poweroff  power the guest off
#   hold      keep it for HOLD_MS (default 15 s) while the host acts
# Usage: guest-hold.sh PORT SIZE MODE
port=$1 size=$2 mode=$3
vshm-guest share --port "$port" --size "$size" --hold-ms "${HOLD_MS:-15000}" > /tmp/share.log 2>&1 &
pid=$!
i=0
until grep -q 'region' /tmp/share.log; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 $pid 2>/dev/null; then
		cat /tmp/share.log
		echo "guest-hold: the region was not mapped"
		exit 1
	fi
	sleep 0.1
done
cat /tmp/share.log
echo "guest-hold: mapped, now: $mode"
case "$mode" in
kill)		kill -9 $pid; wait $pid; sleep 1 ;;
poweroff)	poweroff -f ;;
hold)		wait $pid ;;
esac
exit 0
