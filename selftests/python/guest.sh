#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# In an L2 guest, against selftests/python/pyserver.py: the guest runs the
# Python server tells apart by their sizes. TAP on stdout.
#   guest.sh PORT
port=$1
n=0
# step NAME CMD...: ok if CMD succeeds.
step() {
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $name"; else echo "not ok $n $name"; fi
}
# refused NAME WORD CMD...: ok if CMD fails and says WORD.
refused() {
	name=$1 word=$2
	shift 2
	n=$((n + 1))
	out=$("$@" 2>&1)
	rc=$?
	echo "$out"
	if [ $rc != 0 ] && echo "$out" | grep -q "$word"; then
		echo "ok $n $name"
	else
		echo "not ok $n $name # exit $rc"
	fi
}
step three_1MiB_checked_marked_freed vshm-guest share --port "$port" --size 1M --count 3
step 64KiB_left_without_free vshm-guest share --port "$port" --size 64K --no-free
refused 128KiB_refused_denied 'ERROR VSHM_E_DENIED' \
	vshm-guest share --port "$port" --size 128K
refused 192KiB_exception_refused_internal 'ERROR VSHM_E_INTERNAL' \
	vshm-guest share --port "$port" --size 192K
echo "1..$n"
