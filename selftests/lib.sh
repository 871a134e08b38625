# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the lab suites' drivers share: TAP lines, the host's page pins, the
# module's counters, waiting. Sourced by each, after it set
#   SUITE   the prefix of its test names (sharing, soak, swap, vmm, policy)
#   OUT     its TAP file, emptied here
# and with BUILD and KVER in the environment (scripts/lab/l1-init.sh).

M=$BUILD/module/$KVER
CTL=$BUILD/host/vsock-shmctl
STATS=/sys/kernel/debug/vhost_vsock_shm/stats
R=${LAB_RUN:-/tmp}
n=0
: > "$OUT"

# emit VERDICT NAME: one TAP line, "ok" or "not ok", numbered in order.
emit() { n=$((n + 1)); echo "$1 $n $SUITE/$2" | tee -a "$OUT"; }
# check NAME CMD...: ok if CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then emit ok "$name"; else emit "not ok" "$name"; fi
}
# The plan, after the last test.
tap_plan() { echo "1..$n" >> "$OUT"; }
# Pages the host holds pinned (FOLL_PIN) now, by every user, not just ours.
pins() {
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null
	awk '$1 == "nr_foll_pin_acquired" { a = $2 } $1 == "nr_foll_pin_released" { r = $2 }
	     END { print a - r }' /proc/vmstat
}
# unit_cmd KEY: the command of KEY= (ExecStart, ...) in the installed policy
# unit, run by the suites on an installed root as systemd would.
unit_cmd() { sed -n "s/^$1=//p" /lib/systemd/system/vsock-shm-policy.service; }
# counter NAME: one of the module's counters (debugfs).
counter() { awk -v k="$1" '$1 == k { print $2 }' "$STATS"; }
# counter_above NAME N: the module's counter NAME is past N.
counter_above() { [ "$(counter "$1")" -gt "$2" ]; }
# hugepages_add N: N more 2 MiB pages in the pool; true if N are free.
# hugepages_restore puts the pool back as it was.
hugepages_add() {
	HP_OLD=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HP_OLD + $1)) > /proc/sys/vm/nr_hugepages
	[ "$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)" -ge "$1" ]
}
hugepages_restore() { echo "$HP_OLD" > /proc/sys/vm/nr_hugepages; }
# eq VALUE WANT WHAT: true if equal, else a diagnostic naming WHAT.
eq() { [ "$1" = "$2" ] || { echo "# $3: $1, expected $2"; return 1; }; }
# wait_for SECONDS CMD...: true once CMD succeeds, polled every 0.1 s.
wait_for() {
	local t=$1
	shift
	for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}
