#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# "make test": build for every supported kernel, run the unit tests here and
# the lab suites in L1/L2 on each kernel, print the time of each stage and
# end with one "N passed, M failed" over all of them.
#
# TEST_KERNELS picks the kernels (default: "default backports", that is the
# 6.1 of linux-image-amd64 and the newest 6.12 of bookworm-backports; any
# KVER value of scripts/kernel.sh is accepted). Their labs run side by side,
# one L1 each (one CPU each: the machine has two). Results are labelled by
# kernel: build/results/<abi>/<suite>.tap.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$TOP/build}
RES=$B/results
KERNELS=${TEST_KERNELS:-default backports}
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
	timing+=("$(printf '  %-30s %5d s  (exit %d)' "$name" $(($(date +%s) - t)) $rc)")
	return $rc
}
fail_tap() { mkdir -p "$(dirname "$RES/$1")"; printf 'not ok 1 %s\n1..1\n' "$2" > "$RES/$1.tap"; }

# The ABI a KVER value stands for ("default": the 6.1 one), preparing that
# kernel's packages if needed; empty when it cannot be prepared.
abi_of() {
	local kv=$1
	[ "$kv" = default ] && kv=
	KVER=$kv "$TOP/scripts/kernel.sh" 2>&1 | tee -a "$RES/kernel.log" |
		sed -n 's/^KVER=//p'
}

# checkpatch.pl --strict (from the linux-source of kernel $1) on every module file.
style_check() {
	local abi=$1 cp i=0 f out
	cp=$B/kernel/$abi/src/scripts/checkpatch.pl
	mkdir -p "$RES/$abi"
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
	done > "$RES/$abi/checkpatch.tap"
	echo "1..$i" >> "$RES/$abi/checkpatch.tap"
	grep -c '^ok' "$RES/$abi/checkpatch.tap" | sed "s/\$/ files pass checkpatch --strict of $abi/"
}

# The lab of kernel $1 in its own L1 (build/lab/runs/suite-<abi>), its output
# prefixed with the kernel; results into $RES/<abi>/. L1 frozen under the
# emulator (exit 123: no progress, its CPU stuck; docs/testing.md) is booted
# once more, in the open: its results are the second run's, and a second
# freeze fails. Writes the stage times to $RES/<abi>/times.
lab_of() {
	local abi=$1 run=suite-$1 t rc tag
	local out=$RES/$abi
	tag=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$abi")
	mkdir -p "$out"
	t=$(date +%s)
	KVER=$abi "$TOP/scripts/lab/l1" -t 4200 -n "$run" -- scripts/lab/l1-suite.sh 2>&1 |
		sed -u "s/^/[$tag] /"
	rc=${PIPESTATUS[0]}
	printf '  %-30s %5d s  (exit %d)\n' "lab $tag" $(($(date +%s) - t)) $rc > "$out/times"
	if [ $rc = 123 ]; then
		echo "[$tag] lab: L1 froze ($(cat "$B/lab/runs/$run/froze" 2>/dev/null)): booting it once more"
		mkdir -p "$out/froze-run"
		cp "$B/lab/runs/$run"/{froze,registers-at-freeze.txt,console.log} \
			"$out/froze-run/" 2>/dev/null
		t=$(date +%s)
		KVER=$abi "$TOP/scripts/lab/l1" -t 4200 -n "$run" -- scripts/lab/l1-suite.sh 2>&1 |
			sed -u "s/^/[$tag] /"
		rc=${PIPESTATUS[0]}
		printf '  %-30s %5d s  (exit %d)\n' "lab $tag again" $(($(date +%s) - t)) $rc >> "$out/times"
		[ $rc = 123 ] && rc=1231
	fi
	cp "$B/lab/runs/$run"/*.tap "$out/" 2>/dev/null
	# The packages installed on a root with this kernel, and used in L1,
	# with libvirt too (selftests/install/run.sh: install.tap, libvirt.tap).
	t=$(date +%s)
	"$TOP/selftests/install/run.sh" "$abi" "$out/install.tap" 2>&1 | sed -u "s/^/[$tag] /"
	printf '  %-30s %5d s  (exit %d)\n' "install $tag" $(($(date +%s) - t)) \
		"${PIPESTATUS[0]}" >> "$out/times"
	[ -s "$out/install.tap" ] || fail_tap "$abi/install" "install: the suite left no results"
	[ -s "$out/libvirt.tap" ] || fail_tap "$abi/libvirt" "libvirt: the suite left no results"
	# A suite that left no TAP at all did not run: that fails too.
	for t in module vmm sharing sdk python policy swap soak peer-stock peer-fork peer-compare; do
		[ -s "$out/$t.tap" ] || fail_tap "$abi/$t" "$t: the suite left no results"
	done
	case $rc in
	0)	;;
	124)	fail_tap "$abi/lab" "lab: L1 run timed out" ;;
	1231)	fail_tap "$abi/lab" "lab: L1 froze twice (results of the second run)" ;;
	125)	fail_tap "$abi/lab" "lab: a kernel printed an oops, WARN, BUG or panic" ;;
	126)	fail_tap "$abi/lab" "lab: L1 ended without a status" ;;
	*)	fail_tap "$abi/lab" "lab: L1 suite exited $rc" ;;
	esac
}

labs() {
	local abi pids=()
	for abi in "$@"; do
		lab_of "$abi" &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# 1. The packages the build needs, the kernels, and everything built for each.
stage deps make -s deps || fail_tap deps "deps: the packages the build needs"
abis=()
for kv in $KERNELS; do
	abi=$(abi_of "$kv")
	if [ -z "$abi" ]; then
		fail_tap "kernel-$kv" "kernel: $kv cannot be prepared (build/results/kernel.log)"
		tail -5 "$RES/kernel.log"
		continue
	fi
	mkdir -p "$RES/$abi"
	if stage "build $abi" make -s KVER="$abi" all; then
		echo "ok 1 build: make KVER=$abi all" > "$RES/$abi/build.tap"
		abis+=("$abi")
	else
		fail_tap "$abi/build" "build: make KVER=$abi all"
	fi
done

if [ ${#abis[@]} -gt 0 ]; then
	for abi in "${abis[@]}"; do
		stage "style $abi" style_check "$abi"
	done
	stage unit bash -c "make -s unit 2>&1 | tee '$RES/unit.log'; exit \${PIPESTATUS[0]}"
	urc=$?
	grep -aE '^(not )?ok( |$)' "$RES/unit.log" > "$RES/unit.tap" 2>/dev/null
	[ $urc = 0 ] || [ -s "$RES/unit.tap" ] || fail_tap unit "unit: the unit tests did not run"
	[ $urc = 0 ] || grep -q '^not ok' "$RES/unit.tap" ||
		echo "not ok 999 unit: test runner exited $urc" >> "$RES/unit.tap"

	# The Python bindings' unit tests (Debian's python3; none may skip).
	stage python bash -c "make -s python-test > '$RES/python-unit.tap' 2> '$RES/python-unit.log'"
	prc=$?
	[ $prc = 0 ] || [ -s "$RES/python-unit.tap" ] || fail_tap python-unit "python: the bindings' tests did not run"
	[ $prc = 0 ] || grep -q '^not ok' "$RES/python-unit.tap" ||
		echo "not ok 999 python: tap.py exited $prc" >> "$RES/python-unit.tap"

	# The fuzz targets over their corpus and kept crash inputs, once each.
	stage fuzz bash -c "make -s -C fuzz O='$B' regress 2>&1 | tee '$RES/fuzz.log'; exit \${PIPESTATUS[0]}"
	frc=$?
	awk '/REGRESS/ { n++; sub(/^ */, ""); print "ok " n " fuzz-regress: " $0 }' \
		"$RES/fuzz.log" > "$RES/fuzz.tap"
	[ $frc = 0 ] && [ -s "$RES/fuzz.tap" ] ||
		echo "not ok 99 fuzz-regress: make -C fuzz regress exited $frc" >> "$RES/fuzz.tap"

	# The Debian packages (make deb), which the install suite of each lab uses.
	if stage deb make -s deb > "$RES/deb.log" 2>&1; then
		echo "ok 1 deb: make deb builds the packages, lintian clean" > "$RES/deb.tap"
	else
		fail_tap deb "deb: make deb (build/results/deb.log)"
		tail -20 "$RES/deb.log"
	fi

	stage "lab (${#abis[@]} kernels side by side)" labs "${abis[@]}"
fi

echo
echo "Stage times:"
printf '%s\n' "${timing[@]}"
cat "$RES"/*/times 2>/dev/null
printf '  %-30s %5d s\n' total $(($(date +%s) - T0))
echo
echo "Results:"
cd "$RES" && "$TOP/scripts/tap-summary.sh" *.tap */*.tap
