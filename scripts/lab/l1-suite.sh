#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The lab part of "make test", run in L1 by scripts/test.sh: every suite
# writes <name>.tap into $LAB_RUN, shared with the outer machine.
set -uo pipefail

R=${LAB_RUN:?}
KO=$BUILD/module/$KVER/vhost_vsock_shm.ko
stamp() { echo "== $1 ($(cut -d' ' -f1 /proc/uptime) s)"; }

modprobe kvm_amd || echo "l1-suite: kvm_amd does not load: L2 cannot run"

stamp "selftests: module"
VSOCK_SHM_KO=$KO VSOCK_SHM_MAPPER_KO=$BUILD/module/$KVER/vsock_shm_mapper.ko \
	"$BUILD/selftests/module_test" > "$R/module.tap" 2>&1
cat "$R/module.tap"

stamp "selftests: sharing"
selftests/sharing/run.sh "$R/sharing.tap"

stamp "selftests: policy CLI"
selftests/policy/run.sh "$R/policy.tap"

stamp "selftests: policy swap under traffic"
selftests/sharing/swap.sh "$R/swap.tap"

stamp "selftests: short soak (52 cycles, 4 guests)"
selftests/sharing/soak.sh "$R/soak.tap" 52

stamp "peer suite over stock vhost_vsock"
scripts/lab/peer-suite.sh stock "$R/peer-stock.tap"
stamp "peer suite over vhost_vsock_shm"
scripts/lab/peer-suite.sh fork "$R/peer-fork.tap"

# Every peer test that passes on stock must pass on the fork.
stamp "peer comparison"
passing() { sed -n "s/^ok [0-9]* peer\/$1: //p" "$R/peer-$1.tap" | sort; }
{
	missing=$(comm -23 <(passing stock) <(passing fork) | tr '\n' ';')
	s=$(passing stock | wc -l) f=$(passing fork | wc -l)
	if [ -z "$missing" ] && [ "$s" -gt 0 ]; then
		echo "ok 1 peer: every test passing on stock passes on the fork # stock $s, fork $f"
	else
		echo "not ok 1 peer: every test passing on stock passes on the fork # stock $s, fork $f, missing: $missing"
	fi
	echo "1..1"
} > "$R/peer-compare.tap"
cat "$R/peer-compare.tap"
stamp done
