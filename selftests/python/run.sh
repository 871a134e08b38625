#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Python bindings (python/vsock_shm) in L1 with an L2 guest: the
# build-machine unit tests again, on a kernel with AF_VSOCK; then a server
# written with the bindings (pyserver.py, Debian's /usr/bin/python3, which
# L1 has from the build machine's root) serves the runs of guest.sh in an
# L2 guest: the guest's pattern read and marked through Region.buffer,
# hold()/release() and a slice kept past on_mapped, a refusal, an exception
# in on_mapped, the reasons of on_ended (and, with the 0.2 library,
# on_connect/on_disconnect/on_revoked and fileno()+dispatch()), and the
# counters against what the callbacks saw. Then a guest in Python
# (pyguest.py in an L2 guest booted with scripts/lab/l2 --python) shares
# memory of the library with a cookie, a memfd range and an mmap with
# vsock_shm.Guest against vshm-server, and rings doorbells both ways with
# pynotify.py. After it the host's pins are back where they were. Writes
# TAP to OUT.
#   selftests/python/run.sh OUT.tap
set -uo pipefail

OUT=$1 SUITE=python
. "$(dirname "$0")/../lib.sh"
TOP=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$TOP/selftests/python
PY=/usr/bin/python3
PORT=7100

live_grants() { echo $(($(counter grants_created) - $(counter grants_revoked))); }
pins_at_base() {
	local p
	p=$(pins)
	[ "$p" = "$BASE" ] && [ "$(live_grants)" = 0 ] && return 0
	echo "# pins $p (base $BASE), $(live_grants) live grants"
	return 1
}
# merge FILE PREFIX: FILE's TAP lines become ours, named PREFIX: NAME.
merge() {
	local verdict rest
	sed -n 's/^\(\(not \)\{0,1\}ok\) [0-9]* \(.*\)$/\1|\3/p' "$1" > "$1.merge"
	while IFS='|' read -r verdict rest; do
		emit "$verdict" "$2: ${rest#python/*: }"
	done < "$1.merge"
	rm -f "$1.merge"
}

modprobe kvm_amd
modprobe -a vhost vsock vmw_vsock_virtio_transport_common
check modules_load bash -c "insmod $M/vhost_vsock_shm.ko && insmod $M/vsock_shm_mapper.ko"
check policy_loads "$CTL" policy load default
BASE=$(pins)
check python3_present test -x $PY

# 1. The unit tests, here with AF_VSOCK (none of them may be skipped).
$PY -B "$TOP/python/tests/tap.py" --no-skip > "$R/python-unit.tap" 2>&1
urc=$?
merge "$R/python-unit.tap" unit
check unit_tests_pass bash -c "[ $urc = 0 ] && grep -q '^1\.\.[1-9]' '$R/python-unit.tap'"
check unit_tests_none_skipped bash -c "! grep -q '# SKIP' '$R/python-unit.tap'"

# 2. The Python server and a guest.
PYTHONPATH=$TOP/python $PY -B "$HERE/pyserver.py" --port $PORT --tap "$R/pyserver.tap" \
	--timeout 900 > "$R/pyserver.log" 2>&1 &
srv=$!
check server_starts wait_for 60 grep -q '^pyserver: ready' "$R/pyserver.log"
scripts/lab/l2 -c 3 -m 512M -t 900 --add "$HERE/guest.sh" -- guest.sh $PORT \
	> "$R/l2-python.log" 2>&1
grc=$?
echo "# guest exited $grc"
sed -n 's/^\[l2:3\] //p' "$R/l2-python.log" > "$R/l2-python.tap"
merge "$R/l2-python.tap" guest
check guest_completed bash -c "[ $grc = 0 ] && grep -q '^1\.\.4' '$R/l2-python.tap'"
# The server ends once it saw every run end (or after its timeout).
wait_for 120 bash -c "! kill -0 $srv 2>/dev/null"
kill "$srv" 2>/dev/null
wait "$srv"
src=$?
echo "# python server exited $src"
grep -v '^pyserver: ok' "$R/pyserver.log" | tail -30 | sed 's/^/# /'
merge "$R/pyserver.tap" server
check server_completed bash -c "[ $src = 0 ] && grep -q '^1\.\.[1-9]' '$R/pyserver.tap'"

# 3. A guest in Python: pyguest.py in an L2 guest booted with --python (the
# overlay of scripts/lab/pyroot.sh), with vsock_shm.Guest, against the
# project's vshm-server (which checks the guest's pattern and marks its
# pages) and pynotify.py (doorbells both ways).
SPORT=7110 NPORT=7111
"$BUILD/host/vshm-server" --port $SPORT > "$R/vshm-server.log" 2>&1 &
vsrv=$!
PYTHONPATH=$TOP/python $PY -B "$HERE/pynotify.py" --port $NPORT --tap "$R/pynotify.tap" \
	--timeout 900 > "$R/pynotify.log" 2>&1 &
nsrv=$!
check pyguest_hosts_start wait_for 60 bash -c "grep -q '^pynotify: ready' '$R/pynotify.log' &&
	grep -q 'listening on vsock port' '$R/vshm-server.log'"
t0=$(date +%s)
scripts/lab/l2 -c 3 -m 512M -t 900 --python --add "$HERE/pyguest.py" -- pyguest.py $SPORT $NPORT \
	> "$R/l2-pyguest.log" 2>&1
pgrc=$?
echo "# python guest exited $pgrc after $(($(date +%s) - t0)) s;" \
	"$(grep -ao 'l2-init: up in [0-9.]* s' "$R/l2-pyguest.log" | tail -1)"
sed -n 's/^\[l2:3\] //p' "$R/l2-pyguest.log" > "$R/l2-pyguest.tap"
grep '^# ' "$R/l2-pyguest.tap"
merge "$R/l2-pyguest.tap" guest
check pyguest_completed bash -c "[ $pgrc = 0 ] && grep -q '^1\.\.[1-9]' '$R/l2-pyguest.tap'"
# vshm-server's view: five regions checked (the one with the cookie among
# them), the unfilled one refused for its pattern.
kill "$vsrv" 2>/dev/null
wait "$vsrv"
grep -a 'region\|mismatch' "$R/vshm-server.log" | sed 's/^/# /'
check pyguest_vshm_server_saw_the_cookie grep -q 'check=ok .*cookie=0xc00c1e$' "$R/vshm-server.log"
check pyguest_vshm_server_five_checked_one_refused bash -c \
	"[ \$(grep -c 'check=ok' '$R/vshm-server.log') = 5 ] &&
	 [ \$(grep -c 'pattern mismatch' '$R/vshm-server.log') = 1 ]"
wait_for 120 bash -c "! kill -0 $nsrv 2>/dev/null"
kill "$nsrv" 2>/dev/null
wait "$nsrv"
nrc=$?
grep -v '^pynotify: ok' "$R/pynotify.log" | tail -20 | sed 's/^/# /'
merge "$R/pynotify.tap" guest-host
check pyguest_host_completed bash -c "[ $nrc = 0 ] && grep -q '^1\.\.[1-9]' '$R/pynotify.tap'"
check pins_back pins_at_base

check policy_unloads "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
tap_plan
