#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Count TAP results: tap-summary.sh FILE.tap...
# Prints one line per suite (named by its path without .tap, so that
# "6.12.95+deb12-amd64/sharing" says which kernel it ran on) and ends with "N passed, M failed"; a test
# marked "# SKIP" counts as failed (a test that cannot run is a failure
# here). Exits 1 when anything failed or nothing ran.
set -u
tp=0 tf=0
for f in "$@"; do
	[ -f "$f" ] || continue
	p=$(grep -aE '^ok( |$)' "$f" | grep -vaciE '#[[:space:]]*skip')
	s=$(grep -aE '^ok( |$)' "$f" | grep -aciE '#[[:space:]]*skip')
	n=$(grep -acE '^not ok( |$)' "$f")
	printf '  %-36s %4d ok, %d not ok%s\n' "${f%.tap}" "$p" \
		$((n + s)) "$([ "$s" -gt 0 ] && echo " ($s skipped)")"
	grep -aE '^not ok( |$)' "$f" | sed 's/^/      /'
	grep -aE '^ok( |$)' "$f" | grep -aiE '#[[:space:]]*skip' | sed 's/^/      /'
	tp=$((tp + p)) tf=$((tf + n + s))
done
echo "$tp passed, $tf failed"
[ "$tf" -eq 0 ] && [ "$tp" -gt 0 ]
