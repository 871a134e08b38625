#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest that its host starts to migrate (selftests/sharing/run.sh,
# section 6): a region is shared and held; once the host migrates, shares
# are refused with VSHM_E_BUSY; once the migration is cancelled, or done
# and the guest runs at its destination, they work again. TAP on stdout.
# Usage: guest-migrate.sh PORT
port=$1
n=0
step() {
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $name"; else echo "not ok $n $name"; fi
}
# try_share WANT: shares 1 MiB every second, for up to 3 minutes, until the
# result is WANT: "busy" (refused with VSHM_E_BUSY; any other failure fails
# at once) or "mapped" (shared, checked and freed; a share cut by the
# switch to the destination, whose vsock connections are reset, is retried).
try_share() {
	i=0
	while [ $i -lt 180 ]; do
		vshm-guest share --port "$port" --size 1M --timeout-ms 20000 \
			> /tmp/try.log 2>&1
		rc=$?
		if grep -q VSHM_E_BUSY /tmp/try.log; then
			[ "$1" = busy ] && return 0
		elif [ $rc = 0 ]; then
			[ "$1" = mapped ] && return 0
		elif [ "$1" = busy ]; then
			cat /tmp/try.log
			return 1
		fi
		i=$((i + 1))
		sleep 1
	done
	echo "guest-migrate: never $1"
	cat /tmp/try.log
	return 1
}
held() {
	i=0
	until grep -q 'holding' /tmp/hold.log; do
		i=$((i + 1))
		kill -0 $holder 2>/dev/null && [ $i -le 600 ] || break
		sleep 0.1
	done
	grep -q 'holding' /tmp/hold.log || { cat /tmp/hold.log; return 1; }
}

# The host's server told the holder (VSHM_FEAT_REVOKED) that the migration
# revoked its region: vshm-guest prints the event while it holds.
told_revoked() {
	i=0
	until grep -q 'event REVOKED region [0-9]* grant [0-9]* reason migration' /tmp/hold.log; do
		i=$((i + 1))
		[ $i -le 100 ] || { cat /tmp/hold.log; return 1; }
		sleep 0.1
	done
}

# The host starts migrating once this region is live.
vshm-guest share --port "$port" --size 1M --hold-ms 600000 > /tmp/hold.log 2>&1 &
holder=$!
step held_region_mapped held
step refused_busy_while_migrating try_share busy
step holder_told_revoked_by_migration told_revoked
step shared_again_after_migration try_share mapped
kill -9 $holder 2>/dev/null
wait $holder 2>/dev/null
echo "1..$n"
