#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest: for each MODE in turn, share SIZE on PORT, wait until it
# is mapped, then end that share in the way MODE says while it is live:
#   kill      SIGKILL the guest client (its connection is reset)
#   hold      keep it for HOLD_MS (default 15 s) while the host acts (the
#             host may kill its server: the client then ends)
#   poweroff  power the guest off (last)
#   reboot    reboot the guest at once (sysrq b: no guest shutdown at all)
#   panic     panic the guest kernel (sysrq c; panic=-1 reboots it)
#   wait      wait for the host to act on the VM (reset it, say)
# After reboot and panic (l2 --reboot) the guest boots and runs this again.
# A share that finds no server (the host is restarting it) is tried again
# for up to a minute.
# Usage: guest-hold.sh PORT SIZE MODE...
port=$1 size=$2
shift 2

# Starts a share in the background and waits until it is mapped.
share() {
	tries=0
	while :; do
		vshm-guest share --port "$port" --size "$size" \
			--hold-ms "$hold" > /tmp/share.log 2>&1 &
		pid=$!
		i=0
		until grep -q 'holding' /tmp/share.log; do
			i=$((i + 1))
			kill -0 $pid 2>/dev/null && [ $i -le 600 ] && { sleep 0.1; continue; }
			break
		done
		grep -q 'holding' /tmp/share.log && return 0
		kill -9 $pid 2>/dev/null
		wait $pid 2>/dev/null
		tries=$((tries + 1))
		if [ $tries -ge 60 ]; then
			cat /tmp/share.log
			echo "guest-hold: the region was not mapped"
			exit 1
		fi
		sleep 1
	done
}

for mode in "$@"; do
	# A guest that goes away must still hold its region when it does.
	case "$mode" in
	reboot|panic|wait)	hold=600000 ;;
	*)			hold=${HOLD_MS:-15000} ;;
	esac
	share
	cat /tmp/share.log
	echo "guest-hold: mapped, now: $mode"
	case "$mode" in
	kill)		kill -9 $pid; wait $pid; sleep 3 ;;
	hold)		wait $pid ;;
	poweroff)	poweroff -f ;;
	reboot)		sleep 3; echo b > /proc/sysrq-trigger; sleep 600 ;;
	panic)		sleep 3; echo c > /proc/sysrq-trigger; sleep 600 ;;
	wait)		wait $pid ;;
	*)		echo "guest-hold: unknown mode $mode"; exit 1 ;;
	esac
done
exit 0
