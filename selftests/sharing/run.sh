#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The sharing path end to end, in L1 with L2 guests: validation rules with
# and without a policy, shares of 4 KiB and 2 MiB pages, compaction, the
# server's view of revocation, and the lifetime cases (guest killed, server
# killed, VM powered off, unload refused while shared). After every case the
# host's pins are back to where they were (/proc/vmstat foll_pin counters)
# and the module's counters agree. Writes TAP to OUT.
#   selftests/sharing/run.sh OUT.tap
set -uo pipefail

OUT=$1 SUITE=sharing
. "$(dirname "$0")/../lib.sh"
SERVER=$BUILD/host/vshm-server
PORT=7000

live_grants() { echo $(($(counter grants_created) - $(counter grants_revoked))); }
grants_live() { [ "$(live_grants)" -gt 0 ]; }
pins_at_base() {
	local p
	p=$(pins)
	[ "$p" = "$BASE" ] && [ "$(counter pages_pinned)" = "$(counter pages_unpinned)" ] &&
		[ "$(live_grants)" = 0 ] && return 0
	echo "# pins $p (base $BASE), module: $(counter pages_pinned) pinned," \
	     "$(counter pages_unpinned) unpinned, $(live_grants) live grants"
	return 1
}
# Runs a guest; its TAP lines become ours, prefixed with NAME.
# L2_MEM and L2_RAM, if set, give its memory size and backing (scripts/lab/l2).
guest_tap() {
	local name=$1 log=$R/l2-$1.log
	shift
	scripts/lab/l2 -c 3 -m "${L2_MEM:-512M}" --ram "${L2_RAM:-anon}" -t 400 -- "$@" \
		> "$log" 2>&1
	local rc=$?
	echo "# guest $name exited $rc"
	# A guest that died without reporting its cases fails loudly.
	if [ $rc -ge 124 ] || ! grep -q '^\[l2:3\] 1\.\.[0-9]' "$log"; then
		echo "not ok 0 sharing/$name: the guest ended without its results (exit $rc)" >> "$OUT.guest"
	fi
	sed -n 's/^\[l2:3\] \(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' "$log" |
	while IFS='|' read -r verdict rest; do
		n=$((n + 1))
		echo "$verdict $n sharing/$name: $rest"
	done >> "$OUT.guest"
	grep -v '^\[l2:3\] \(not \)\{0,1\}ok ' "$log" | grep '^\[l2:3\]' | tail -40
}
merge_guest() {	# renumber the guest's lines after ours
	[ -f "$OUT.guest" ] || return 0
	while read -r line; do
		case "$line" in
		"not ok "*) emit "not ok" "${line#not ok * sharing/}" ;;
		"ok "*) emit ok "${line#ok * sharing/}" ;;
		esac
	done < "$OUT.guest"
	rm -f "$OUT.guest"
}
# monitor_open NAME: FIFOs for QEMU's monitor in L1's own /run (9p has
# none), its answers copied to $R/NAME.monitor.log.
monitor_open() {
	MON=/run/$1.mon
	rm -f "$MON.in" "$MON.out"
	mkfifo "$MON.in" "$MON.out"
	cat "$MON.out" > "$R/$1.monitor.log" 2>&1 &
	monlog=$!
}
# A command to QEMU's monitor; a QEMU that is gone no longer reads the FIFO.
monitor() { timeout 10 bash -c 'echo "$1" > "$2"' _ "$1" "$MON.in"; sleep 1; }
start_server() {
	"$SERVER" --port $PORT > "$R/server-$1.log" 2>&1 &
	SERVER_PID=$!
	sleep 0.3
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }

modprobe kvm_amd
modprobe -a vhost vsock vmw_vsock_virtio_transport_common
check modules_load bash -c "insmod $M/vhost_vsock_shm.ko && insmod $M/vsock_shm_mapper.ko"
check mapper_device_exists test -c /dev/vsock-shm-mapper
BASE=$(pins)

# 1. Without a policy, a valid list reaches the server untranslated.
"$CTL" policy unload > /dev/null
start_server nopolicy
guest_tap nopolicy guest_rules $PORT --no-policy
merge_guest
stop_server
check nothing_pinned_without_policy pins_at_base

# 2. One case per validation rule, then real shares.
check policy_loads "$CTL" policy load default
start_server rules
# Meanwhile a well-behaved guest (CID 4) shares as usual: it must not notice.
scripts/lab/l2 -c 4 -m 512M -t 600 -l "$R/l2-4.log" -- guest-share.sh $PORT \
	> "$R/l2-bystander.log" 2>&1 &
bystander=$!
guest_tap rules guest_rules $PORT --ram-end 0x20000000
merge_guest
wait $bystander
brc=$?
echo "# bystander guest exited $brc"
sed -n 's/^\[l2:4\] \(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' "$R/l2-bystander.log" |
while IFS='|' read -r verdict rest; do echo "$verdict 0 sharing/bystander: $rest"; done > "$OUT.guest"
merge_guest
check bystander_completed bash -c "[ $brc = 0 ] && grep -q '^\[l2:4\] 1\.\.[1-9]' '$R/l2-bystander.log'"
check pins_back_after_rules pins_at_base
# The policy's tunable widens sharing to unprivileged guest ports: the
# uid-65534 process that rules saw refused now shares pages of its own.
check policy_allows_unprivileged_ports "$CTL" policy set unprivileged-ports on
guest_tap unprivileged guest_rules $PORT --unprivileged-allowed
merge_guest
check policy_back_to_privileged_ports "$CTL" policy set unprivileged-ports off
check pins_back_after_unprivileged pins_at_base
# The per-VM page limit: 8 pages over a limit of 4.
P=/sys/module/vhost_vsock_shm/parameters/max_pages_per_vm
old_quota=$(cat $P)
echo 4 > $P
guest_tap quota guest_rules $PORT --quota
echo "$old_quota" > $P
merge_guest
check pins_back_after_quota pins_at_base
stop_server
check server_checked_every_pattern bash -c "! grep -q 'check=FAILED' '$R/server-rules.log'"

# 3. The server's view of revocation (host_revoke: SIGBUS after FREE).
"$BUILD/selftests/host_revoke" $((PORT + 1)) > "$R/host_revoke.log" 2>&1 &
hr=$!
scripts/lab/l2 -c 3 -t 300 -- vshm-guest share --port $((PORT + 1)) --size 1M \
	> "$R/l2-revoke.log" 2>&1
grc=$?
wait $hr
hrc=$?
while read -r line; do
	case "$line" in
	"not ok "*) emit "not ok" "revoke: ${line#not ok [0-9]* }" ;;
	"ok "*) emit ok "revoke: ${line#ok [0-9]* }" ;;
	esac
done < "$R/host_revoke.log"
# host_revoke ends with its plan and exit 0 only if every case ran and passed.
check revoke_server_completed bash -c "[ $hrc = 0 ] && grep -q '^1\.\.[1-9]' '$R/host_revoke.log'"
# The guest checked that the host changed nothing but its marks.
check revoke_guest_ok test "$grc" = 0
check pins_back_after_revoke pins_at_base

# 4. Lifetime, in one guest: its client is killed while shared; then, while
# it shares again, unloading is refused and the server is killed; then it
# shares once more and the VM is powered off. grants_created tells when each
# share went live (a grant can come and go between two polls).
created() { counter grants_created; }
created_past() { [ "$(created)" -ge "$1" ]; }
start_server life
G0=$(created)
F0=$(counter frees)
scripts/lab/l2 -c 3 -t 400 -- guest-hold.sh $PORT 4M kill hold poweroff \
	> "$R/l2-life.log" 2>&1 &
l2=$!
if wait_for 150 created_past $((G0 + 1)); then
	check guest_killed_revokes wait_for 30 pins_at_base
else
	emit "not ok" "guest_killed_revokes # the guest's first region never went live"
fi
if wait_for 60 created_past $((G0 + 2)) && wait_for 10 grants_live; then
	check unload_refused_while_shared bash -c "! rmmod vhost_vsock_shm 2>/dev/null"
	check mapper_unload_refused_while_mapped bash -c "! rmmod vsock_shm_mapper 2>/dev/null"
	# A policy decides translations only: unloading it leaves grants be.
	live=$(live_grants)
	check policy_unload_with_live_grant "$CTL" policy unload
	check grant_outlives_its_policy test "$(live_grants)" = "$live"
	kill -9 "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null
	check server_killed_revokes wait_for 30 pins_at_base
	check policy_reloads "$CTL" policy load default
else
	emit "not ok" "unload_refused_while_shared # the guest's second region never went live"
fi
start_server life2
if wait_for 90 created_past $((G0 + 3)); then
	wait "$l2" 2>/dev/null
	check vm_poweroff_revokes wait_for 20 pins_at_base
else
	emit "not ok" "vm_poweroff_revokes # the guest's third region never went live"
	wait "$l2" 2>/dev/null
fi
grep '^\[l2:3\]' "$R/l2-life.log" | tail -12
# Each region ended by the kill, the server's death or the power off: the
# guest never got to free one.
check lifetime_ended_without_free eq "$(counter frees)" "$F0" "FREEs seen"
stop_server

# 4b. A guest that goes away while the server reads its region, with no
# FREE and no close of its own: a reboot (sysrq b), a panic (panic=-1
# reboots it) and QEMU's system_reset, each in a guest QEMU reboots
# (l2 --reboot). QEMU stops the device as the guest resets: the region is
# revoked (the server's reader gets SIGBUS, not data of a page the guest
# lost), the pins come back, the server's connection ends, and the guest,
# booted again, shares again. host_reader is the server (the server
# library, reading every region it maps from a thread of its own).
reader_saw() { grep -q "$2" "$R/reader-$1.log"; }
mapped_twice() { [ "$(grep -c '^mapped ' "$R/reader-$1.log")" -ge 2 ]; }
booted_twice() { [ "$(grep -ac 'l2-init: up' "$R/l2-$1.console")" -ge 2 ]; }
for how in reboot panic reset; do
	act=$how
	[ $how = reset ] && act=wait
	monitor_open "l2-$how"
	"$BUILD/selftests/host_reader" $((PORT + 2)) 2 > "$R/reader-$how.log" 2>&1 &
	reader=$!
	sleep 0.3
	scripts/lab/l2 -c 3 -t 300 --reboot --monitor "$MON" -l "$R/l2-$how.console" \
		-- guest-hold.sh $((PORT + 2)) 4M $act > "$R/l2-$how.log" 2>&1 &
	l2=$!
	if wait_for 150 reader_saw $how '^mapped 1 '; then
		[ $how = reset ] && sleep 2 && monitor system_reset
		check "${how}_reader_gets_sigbus" wait_for 60 reader_saw $how '^reader 1 SIGBUS'
		# Ended by the connection's end, never by a FREE of the guest.
		check "${how}_server_connection_ends" wait_for 30 reader_saw $how \
			'^ended 1 [0-9]* \(reset\|closed\)'
		check "${how}_revokes_pins_back" wait_for 30 pins_at_base
		check "${how}_guest_boots_again" wait_for 150 booted_twice $how
		check "${how}_guest_shares_again" wait_for 150 mapped_twice $how
	else
		emit "not ok" "${how}_reader_gets_sigbus # the guest's region was never mapped"
	fi
	monitor quit
	wait "$l2" 2>/dev/null
	kill "$monlog" 2>/dev/null
	check "${how}_guest_kernel_clean" bash -c "! grep -aq '@@L2-KERNEL' '$R/l2-$how.console'"
	check "${how}_server_saw_every_end" wait_for 30 bash -c "! kill -0 $reader 2>/dev/null"
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
	sed 's/^/# reader: /' "$R/reader-$how.log" | head -8
	check "pins_back_after_$how" wait_for 30 pins_at_base
done

# 5. Guest RAM as production hosts back it, through QEMU's memory backends:
# a shared memfd, and 2 MiB huge pages (libvirt's <hugepages/>). The same
# shares as the bystander's: mapped, checked, freed, nothing left pinned.
check hugepages_reserved_for_guest hugepages_add 128
start_server backed
for ram in memfd hugetlb; do
	L2_MEM=256M L2_RAM=$ram guest_tap "ram_$ram" guest-share.sh $PORT
	merge_guest
	check "pins_back_after_ram_$ram" pins_at_base
done
stop_server
hugepages_restore
check server_checked_backed_guests bash -c "! grep -q 'check=FAILED' '$R/server-backed.log'"

# 6. Live migration, through QEMU's monitor: once a region is live, a
# migration starts (slowed to 1 KiB/s so that it lasts). QEMU turns on
# vhost's dirty log: the region is revoked and its pages marked dirty,
# shares are refused with VSHM_E_BUSY; after migrate_cancel they work again.
monitor_open l2-mig
start_server mig
G0=$(created)
B0=$(counter refused_VSHM_E_BUSY)
L0=$(counter pages_logged_dirty)
scripts/lab/l2 -c 3 -m 256M --monitor "$MON" -t 500 -- guest-migrate.sh $PORT \
	> "$R/l2-mig.log" 2>&1 &
l2=$!
if wait_for 150 created_past $((G0 + 1)) && wait_for 10 grants_live; then
	monitor "migrate_set_parameter max-bandwidth 1k"
	monitor "migrate -d exec:cat>/dev/null"
	monitor "info migrate"
	check migration_revokes_shared_region wait_for 60 pins_at_base
	# The marks come after the unpin, and the count after the marks.
	check migration_marks_revoked_pages_dirty wait_for 30 counter_above pages_logged_dirty $((L0 + 255))
	check migration_refuses_shares_busy wait_for 120 counter_above refused_VSHM_E_BUSY "$B0"
	check migration_was_active grep -q 'Migration status: active' "$R/l2-mig.monitor.log"
	# The guest shares again once the log is off (its last step), and ends.
	monitor "migrate_cancel"
else
	emit "not ok" "migration_revokes_shared_region # the guest's region never went live"
fi
wait "$l2"
echo "# migrating guest exited $?"
sed -n 's/^\[l2:3\] \(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' "$R/l2-mig.log" |
while IFS='|' read -r verdict rest; do echo "$verdict 0 sharing/migrate: $rest"; done > "$OUT.guest"
merge_guest
check migrating_guest_completed grep -q '^\[l2:3\] 1\.\.[1-9]' "$R/l2-mig.log"
# The server library read the mapper's event and told the guest.
check server_saw_revocation_by_migration grep -q 'revoked (migration), guest told' "$R/server-mig.log"
stop_server
kill "$monlog" 2>/dev/null
check pins_back_after_migration pins_at_base

# 7. A live migration that completes: the same start, then the migration
# runs to its end into a file in L1, the source QEMU quits (its device is
# released) and a second QEMU takes the guest in from the file: at its
# destination the guest shares again, through the new device.
migration_completed() {
	local i
	for i in $(seq 1 90); do
		monitor "info migrate"
		grep -aq 'Migration status: completed' "$R/l2-mig2.monitor.log" && return 0
	done
	return 1
}
IMG=/run/l2-mig2.img
rm -f "$IMG"
monitor_open l2-mig2
start_server mig2
G0=$(created)
B0=$(counter refused_VSHM_E_BUSY)
D0=$(counter devs_released)
scripts/lab/l2 -c 3 -m 256M --monitor "$MON" -t 500 -l "$R/l2-mig2-src.console" \
	-- guest-migrate.sh $PORT > "$R/l2-mig2-src.log" 2>&1 &
l2=$!
: > "$R/l2-mig2-dst.log"
drc=1
if wait_for 150 created_past $((G0 + 1)) && wait_for 10 grants_live; then
	monitor "migrate_set_parameter max-bandwidth 1k"
	monitor "migrate -d exec:cat>$IMG"
	check completed_migration_revokes wait_for 60 pins_at_base
	check completed_migration_refuses_busy wait_for 120 counter_above refused_VSHM_E_BUSY "$B0"
	monitor "migrate_set_parameter max-bandwidth 1g"
	check migration_completes migration_completed
	monitor "quit"
	wait "$l2"
	echo "# source QEMU ended: $?"
	check source_device_released wait_for 30 counter_above devs_released "$D0"
	check source_guest_kernel_clean bash -c "! grep -aq '@@L2-KERNEL' '$R/l2-mig2-src.console'"
	scripts/lab/l2 -c 3 -m 256M --incoming "exec:cat $IMG" -t 300 \
		-l "$R/l2-mig2-dst.console" -- guest-migrate.sh $PORT \
		> "$R/l2-mig2-dst.log" 2>&1
	drc=$?
	echo "# destination guest exited $drc"
else
	emit "not ok" "completed_migration_revokes # the guest's region never went live"
	wait "$l2"
fi
# The guest's TAP: its first steps ran at the source, the last one here.
cat "$R/l2-mig2-src.log" "$R/l2-mig2-dst.log" |
	sed -n 's/^\[l2:3\] \(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' |
while IFS='|' read -r verdict rest; do echo "$verdict 0 sharing/migrated: $rest"; done > "$OUT.guest"
merge_guest
check migrated_guest_completed bash -c "[ $drc = 0 ] && grep -q '^\[l2:3\] 1\.\.4' '$R/l2-mig2-dst.log'"
stop_server
kill "$monlog" 2>/dev/null
rm -f "$IMG"
check pins_back_after_completed_migration pins_at_base

check policy_unloads "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
check pins_at_baseline_at_end test "$(pins)" = "$BASE"
tap_plan
