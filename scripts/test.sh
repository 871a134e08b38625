#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make test": build, run the unit tests here and the lab suites in L1/L2,
# print the time of each stage and end with "N passed, M failed".
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$TOP/build}
RES=$B/results
rm -rf "$RES"
mkdir -p "$RES"
cd "$TOP"

T0=$(date +%s)
timing=()
stage() {
	local name=$1 t=$(date +%s) rc
	shift
	echo "=== stage $name"
	"$@"
	rc=$?
	timing+=("$(printf '  %-10s %5d s  (exit %d)' "$name" $(($(date +%s) - t)) $rc)")
	return $rc
}
fail_tap() { printf 'not ok 1 %s\n1..1\n' "$2" > "$RES/$1.tap"; }

build() { make -s all; }

# checkpatch.pl --strict (from the target's linux-source) on every module file.
style_check() {
	local cp i=0 f
	cp=$(ls "$B"/kernel/"$(cat "$B/kernel/current")"/src/scripts/checkpatch.pl)
	for f in vhost_vsock_shm/*.[ch] vhost_vsock_shm/uapi/*.h; do
		[ -f "$f" ] || continue
		i=$((i + 1))
		if out=$("$cp" --strict --no-tree --terse --show-types \
			  --ignore FILE_PATH_CHANGES,LINUX_VERSION_CODE -f "$f" 2>&1); then
			echo "ok $i checkpatch: $f"
		else
			echo "not ok $i checkpatch: $f"
			echo "$out" | sed 's/^/# /'
		fi
	done > "$RES/checkpatch.tap"
	echo "1..$i" >> "$RES/checkpatch.tap"
	grep -c '^ok' "$RES/checkpatch.tap" | sed 's/$/ files pass checkpatch --strict/'
}
if ! stage build build; then
	fail_tap build "build: make all"
else
	echo "ok 1 build: make all" > "$RES/build.tap"

	stage style style_check
	stage unit bash -c "make -s unit 2>&1 | tee '$RES/unit.log'; exit \${PIPESTATUS[0]}"
	urc=$?
	grep -aE '^(not )?ok( |$)' "$RES/unit.log" > "$RES/unit.tap" 2>/dev/null
	[ $urc = 0 ] || [ -s "$RES/unit.tap" ] || fail_tap unit "unit: the unit tests did not run"
	[ $urc = 0 ] || grep -q '^not ok' "$RES/unit.tap" ||
		echo "not ok 999 unit: test runner exited $urc" >> "$RES/unit.tap"

	# The fuzz targets over their corpus and kept crash inputs, once each.
	stage fuzz bash -c "make -s -C fuzz O='$B' regress 2>&1 | tee '$RES/fuzz.log'; exit \${PIPESTATUS[0]}"
	frc=$?
	awk '/REGRESS/ { n++; sub(/^ */, ""); print "ok " n " fuzz-regress: " $0 }' \
		"$RES/fuzz.log" > "$RES/fuzz.tap"
	[ $frc = 0 ] && [ -s "$RES/fuzz.tap" ] ||
		echo "not ok 99 fuzz-regress: make -C fuzz regress exited $frc" >> "$RES/fuzz.tap"

	stage lab "$TOP/scripts/lab/l1" -t 3600 -n suite -- scripts/lab/l1-suite.sh
	lrc=$?
	# L1 froze under the emulator (exit 123: no progress, its CPU stuck;
	# docs/testing.md): booted once more, in the open. Its results are the
	# second run's; a second freeze fails.
	if [ $lrc = 123 ]; then
		echo "lab: L1 froze ($(cat "$B/lab/runs/suite/froze" 2>/dev/null)): booting it once more"
		mkdir -p "$RES/froze-run"
		cp "$B"/lab/runs/suite/{froze,registers-at-freeze.txt,console.log} \
			"$RES/froze-run/" 2>/dev/null
		stage lab-again "$TOP/scripts/lab/l1" -t 3600 -n suite -- scripts/lab/l1-suite.sh
		lrc=$?
		[ $lrc = 123 ] && lrc=1231
	fi
	cp "$B"/lab/runs/suite/*.tap "$RES/" 2>/dev/null
	# A suite that left no TAP at all did not run: that fails too.
	for t in module vmm sharing policy swap soak peer-stock peer-fork peer-compare; do
		[ -s "$RES/$t.tap" ] || fail_tap "$t" "$t: the suite left no results"
	done
	case $lrc in
	0)	;;
	124)	fail_tap lab "lab: L1 run timed out" ;;
	1231)	fail_tap lab "lab: L1 froze twice (results of the second run)" ;;
	125)	fail_tap lab "lab: a kernel printed an oops, WARN, BUG or panic" ;;
	126)	fail_tap lab "lab: L1 ended without a status" ;;
	*)	fail_tap lab "lab: L1 suite exited $lrc" ;;
	esac
fi

echo
echo "Stage times:"
printf '%s\n' "${timing[@]}"
printf '  %-10s %5d s\n' total $(($(date +%s) - T0))
echo
echo "Results:"
"$TOP/scripts/tap-summary.sh" "$RES"/*.tap
