#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmm_test in L1: vhost_vsock_shm driven by a VMM of our own (no vCPU, no
# L2), with the server's side in the same program. Loads the fork, the
# mapper and the default policy, runs the tests (the mem_table ones swap to
# the iotlb policy and back through $VSHM_CTL), then unloads everything and
# checks that the host's pins are back where they were. Writes TAP to OUT.
#   selftests/vmm/run.sh OUT.tap
# VMM_MODULES names another directory holding both modules (to check that
# the tests fail against an older module), VMM_CTL a vsock-shmctl whose
# policies match them; VMM_TESTS="NAME ..." runs only those tests
# (vmm_test -t NAME ...), by default all of them.
set -uo pipefail

OUT=$1 SUITE=vmm
. "$(dirname "$0")/../lib.sh"
M=${VMM_MODULES:-$M}
CTL=${VMM_CTL:-$CTL}
LOG=$R/vmm_test.log

modprobe kvm_amd 2>/dev/null || modprobe kvm_intel
modprobe -a vhost vsock vmw_vsock_virtio_transport_common
check modules_load bash -c "insmod $M/vhost_vsock_shm.ko && insmod $M/vsock_shm_mapper.ko"
check policy_loads "$CTL" policy load default
# The hugetlb tests: the VM's 32 MiB of RAM as 16 huge pages of 2 MiB.
check hugepages_reserved hugepages_add 16
BASE=$(pins)

# The harness's "ok N vmm.NAME" lines become ours; its comments go along.
ONLY=()
for t in ${VMM_TESTS:-}; do ONLY+=(-t "$t"); done
VSHM_CTL=$CTL "$BUILD/selftests/vmm_test" "${ONLY[@]}" > "$LOG" 2>&1
echo "# vmm_test exited $?" | tee -a "$OUT"
hugepages_restore
found=0
while IFS= read -r line; do
	case "$line" in
	"not ok "*) emit "not ok" "${line#not ok * vmm.}"; found=1 ;;
	"ok "*) emit ok "${line#ok * vmm.}"; found=1 ;;
	"#"*) echo "$line" | tee -a "$OUT" ;;
	esac
done < "$LOG"
[ $found = 1 ] || emit "not ok" "vmm_test_ran # no result from vmm_test"

check policy_unloads "$CTL" policy unload
check modules_unload bash -c "rmmod vsock_shm_mapper && rmmod vhost_vsock_shm"
check pins_at_baseline_at_end test "$(pins)" = "$BASE"
tap_plan
