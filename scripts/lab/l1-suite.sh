#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The lab part of "make test", run in L1 by scripts/test.sh: every suite
# writes <name>.tap into $LAB_RUN, shared with the outer machine.
set -uo pipefail

R=${LAB_RUN:?}
KO=$BUILD/module/$KVER/vhost_vsock_shm.ko
stamp() { echo "== $1 ($(cut -d' ' -f1 /proc/uptime) s)"; }
# suite SECONDS NAME CMD...: runs one suite with a time budget of its own,
# so that one stuck suite is reported as such and the others still run.
# The budgets are about 1.5 times what each took when make test ran two
# L1s side by side on two cores (sharing: 1000 to 1170 s).
suite() {
	local t=$1 name=$2
	shift 2
	timeout -k 10 "$t" "$@"
	local rc=$?
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		echo "not ok 999 $name: the suite did not end within $t s" | tee -a "$R/$name.tap"
		ps -eo pid,stat,etimes,wchan:32,args | grep -E 'qemu|vshm|vsock|run.sh' | grep -v grep
	fi
}

modprobe kvm_amd || echo "l1-suite: kvm_amd does not load: L2 cannot run"
# Before any baseline is taken: the vCPU that spares L1 text patching while
# L2 guests run (scripts/lab/kvm-keeper.c; scripts/lab/l2 starts it too).
"$BUILD/lab/kvm-keeper" /run/kvm-keeper.pid || echo "l1-suite: kvm-keeper did not start"

stamp "selftests: module"
VSOCK_SHM_KO=$KO VSOCK_SHM_MAPPER_KO=$BUILD/module/$KVER/vsock_shm_mapper.ko \
	"$BUILD/selftests/module_test" > "$R/module.tap" 2>&1
cat "$R/module.tap"

stamp "selftests: vmm (a VMM of our own: memslots, memory table, VMM killed)"
suite 450 vmm selftests/vmm/run.sh "$R/vmm.tap"

stamp "selftests: sharing"
suite 1800 sharing selftests/sharing/run.sh "$R/sharing.tap"

stamp "selftests: sdk (the guest daemon, events, channels, examples)"
suite 900 sdk selftests/sdk/run.sh "$R/sdk.tap"

stamp "selftests: python bindings (a server in Python, a guest in L2)"
suite 300 python selftests/python/run.sh "$R/python.tap"

stamp "selftests: policy CLI"
suite 600 policy selftests/policy/run.sh "$R/policy.tap"

stamp "selftests: policy swap under traffic"
suite 600 swap selftests/sharing/swap.sh "$R/swap.tap"

stamp "selftests: short soak (52 cycles, 4 guests)"
suite 600 soak selftests/sharing/soak.sh "$R/soak.tap" 52

stamp "peer suite over stock vhost_vsock"
suite 450 peer-stock scripts/lab/peer-suite.sh stock "$R/peer-stock.tap"
# The stock module is the reference, not under test: on 6.12 upstream's
# vsock_test loses a timing-bound test over it under this emulator now and
# then (SHUT_RD, double bind connect: "accept timed out"; its control channel
# out of step, every test after it), in three of eight runs on 2026-12-02.
# Its failures stay in the log as comments and are named by the comparison;
# the fork's own run must pass every test, whatever stock did.
sed -i 's/^not ok \([0-9]*\) /# reference failed: \1 /' "$R/peer-stock.tap"
stamp "peer suite over vhost_vsock_shm"
suite 450 peer-fork scripts/lab/peer-suite.sh fork "$R/peer-fork.tap"

# Every peer test that passes on stock must pass on the fork.
stamp "peer comparison"
passing() { sed -n "s/^ok [0-9]* peer\/$1: //p" "$R/peer-$1.tap" | sort; }
{
	missing=$(comm -23 <(passing stock) <(passing fork) | tr '\n' ';')
	s=$(passing stock | wc -l) f=$(passing fork | wc -l)
	lost=$(sed -n 's/^# reference failed: [0-9]* peer\/stock: //p' "$R/peer-stock.tap" | tr '\n' ';')
	[ -z "$lost" ] || echo "# the stock reference failed: $lost (the fork ran them all)"
	if [ -z "$missing" ] && [ "$s" -gt 0 ]; then
		echo "ok 1 peer: every test passing on stock passes on the fork # stock $s, fork $f"
	else
		echo "not ok 1 peer: every test passing on stock passes on the fork # stock $s, fork $f, missing: $missing"
	fi
	echo "1..1"
} > "$R/peer-compare.tap"
cat "$R/peer-compare.tap"
stamp done
