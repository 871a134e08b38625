#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# libvirt, as most KVM hosts run QEMU: Debian's libvirtd in L1 (booted on
# the root with the packages installed, selftests/install/run.sh) starts a
# transient domain with <vsock model='virtio'/>, whose QEMU runs as
# libvirt's unprivileged user (libvirt-qemu, no CAP_IPC_LOCK). Its guest
# shares 64 MiB with the example server, run as a member of vsock-shm:
#  - without memory settings the domain's QEMU has libvirtd's 8 MiB
#    RLIMIT_MEMLOCK: refused with VSHM_E_MEMLOCK, the guest and the host's
#    log naming the limit;
#  - with <memtune><hard_limit> and <memoryBacking><locked/>, and with
#    <memtune><hard_limit> alone (what docs/libvirt.md recommends): mapped,
#    checked, freed.
#   selftests/libvirt/in-l1.sh EXAMPLES_DIR      (TAP: $LAB_RUN/libvirt.tap)
set -uo pipefail

EX=${1:?usage: in-l1.sh EXAMPLES_DIR}
OUT=$LAB_RUN/libvirt.tap SUITE=libvirt
. "$(dirname "$0")/../lib.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PORT=7500
IMG=/var/lib/libvirt/images
virsh() { command virsh -q -c qemu:///system "$@"; }

# domain_xml NAME CONSOLE MEMTUNE: a direct-kernel-boot guest that runs
# guest-share and powers off; MEMTUNE is put in the domain as is.
domain_xml() {
	cat <<XML
<domain type='kvm'>
  <name>$1</name>
  <memory unit='MiB'>384</memory>
  <vcpu>1</vcpu>
  $3
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$IMG/vmlinuz</kernel>
    <initrd>$IMG/l2.cpio.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=5 quiet no_timer_check nosoftlockup -- guest-share --port $PORT --size 64M --seed 7</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='host-passthrough'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$2'/><target port='0'/></serial>
    <vsock model='virtio'><cid auto='no' address='3'/></vsock>
    <memballoon model='none'/>
    <controller type='usb' model='none'/>
  </devices>
</domain>
XML
}

# run_domain NAME MEMTUNE: the server and the domain; their logs in $R.
# Sets qemu_user and qemu_memlock (what QEMU ran as, with what limit).
run_domain() {
	local name=$1 con=/var/log/libvirt/qemu/$1-console.log pid t
	rm -f "$con"
	setpriv --reuid=vshm-test --regid=vshm-test --init-groups \
		"$EX/server-map" --port $PORT --count 1 --verify 7 --timeout 300 \
		> "$R/$name-server.log" 2>&1 &
	srv=$!
	sleep 0.3
	domain_xml "$name" "$con" "$2" > "$R/$name.xml"
	virsh create "$R/$name.xml" > "$R/$name-virsh.log" 2>&1 || {
		cat "$R/$name-virsh.log"
		kill $srv
		return 1
	}
	qemu_user= qemu_memlock=
	for t in $(seq 1 300); do
		pid=$(pgrep -f "guest=$name," | head -1)
		if [ -n "$pid" ] && [ -z "$qemu_user" ]; then
			qemu_user=$(ps -o user= -p "$pid")
			qemu_memlock=$(awk '/^Max locked memory/ { print $4 }' "/proc/$pid/limits")
		fi
		virsh domstate "$name" > /dev/null 2>&1 || break
		sleep 1
	done
	cp "$con" "$R/$name-console.log" 2>/dev/null
	# A guest that shared nothing leaves the server waiting: end it.
	[ "$(guest_rc "$name")" = 0 ] || kill $srv 2>/dev/null
	wait $srv
	server_rc=$?
	grep -a 'guest-share' "$con" | sed "s/^/# $name: /"
}
guest_rc() { sed -n 's/.*@@L2-RC=\([0-9]*\)@@.*/\1/p' "$R/$1-console.log" | tail -1; }
sum_of() { grep -ao 'fnv1a64=[0-9a-f]*' "$1" | head -1; }

qemu_user= qemu_memlock= server_rc=
modprobe kvm_amd
"$BUILD/lab/kvm-keeper" /run/kvm-keeper.pid 2>/dev/null
pgrep -x systemd-udevd > /dev/null || /lib/systemd/systemd-udevd --daemon > /dev/null 2>&1
udevadm trigger --action=add > /dev/null 2>&1
udevadm settle -t 10
check unit_start bash -c "$(unit_cmd ExecStartPre) && $(unit_cmd ExecStart)"
base_pins=$(pins)

mkdir -p "$IMG" /run/libvirt
cp "/boot/vmlinuz-$(uname -r)" "$IMG/vmlinuz"
cp "$EX/l2.cpio.gz" "$IMG/l2.cpio.gz"
virtlogd -d
libvirtd -d
check libvirtd_answers wait_for 60 virsh version
echo "# libvirt: $(virsh version 2>/dev/null | grep -i 'libvirt\|hypervisor' | tr '\n' ' ')"

# 1. No memory settings: QEMU has libvirtd's limit (8 MiB: the kernel's
#    and systemd's default) and no CAP_IPC_LOCK.
run_domain vshm-plain ""
check plain_qemu_runs_as_libvirt_qemu eq "$qemu_user" libvirt-qemu "QEMU's user"
echo "# vshm-plain: QEMU's RLIMIT_MEMLOCK: $qemu_memlock bytes"
check plain_share_refused_memlock eq "$(guest_rc vshm-plain)" 3 "guest-share (3: refused)"
check plain_guest_names_the_limit grep -aq "VSHM_E_MEMLOCK (27).*RLIMIT_MEMLOCK, $((qemu_memlock / 1024)) KiB" \
	"$R/vshm-plain-console.log"
check plain_host_log_names_the_limit bash -c \
	"dmesg | grep -q 'does not fit its VMM.s RLIMIT_MEMLOCK of $((qemu_memlock / 4096)) pages'"
check plain_server_mapped_nothing bash -c "! grep -q 'server-map: region .*size=' '$R/vshm-plain-server.log'"

# 2. The documented settings (docs/libvirt.md).
run_domain vshm-locked "<memtune><hard_limit unit='MiB'>1024</hard_limit></memtune>
  <memoryBacking><locked/></memoryBacking>"
check locked_qemu_runs_as_libvirt_qemu eq "$qemu_user" libvirt-qemu "QEMU's user"
check locked_qemu_memlock_is_hard_limit eq "$qemu_memlock" $((1024 << 20)) "QEMU's RLIMIT_MEMLOCK"
check locked_guest_shares_64m eq "$(guest_rc vshm-locked)" 0 "guest-share"
check locked_server_maps_as_group_member eq "$server_rc" 0 "server-map"
check locked_checksums_agree bash -c "[ -n '$(sum_of "$R/vshm-locked-server.log")' ] &&
	[ '$(sum_of "$R/vshm-locked-server.log")' = '$(sum_of "$R/vshm-locked-console.log")' ]"
check locked_verified grep -q 'size=67108864 .*verify=ok' "$R/vshm-locked-server.log"

# 3. <memtune><hard_limit> alone: libvirt gives QEMU that memlock limit
#    too, without locking all of the guest's RAM (the recommended setting).
run_domain vshm-hardlimit "<memtune><hard_limit unit='MiB'>1024</hard_limit></memtune>"
check hardlimit_qemu_memlock_is_hard_limit eq "$qemu_memlock" $((1024 << 20)) "QEMU's RLIMIT_MEMLOCK"
check hardlimit_guest_shares_64m eq "$(guest_rc vshm-hardlimit)" 0 "guest-share"
check hardlimit_server_maps eq "$server_rc" 0 "server-map"
check hardlimit_verified grep -q 'size=67108864 .*verify=ok' "$R/vshm-hardlimit-server.log"

check no_domain_left bash -c "[ -z \"\$(virsh -q -c qemu:///system list --all)\" ]"
pins_back() { [ "$(pins)" = "$base_pins" ]; }
check pins_back wait_for 10 pins_back
bash -c "$(unit_cmd ExecStop)" > /dev/null
check modules_unload modprobe -r vsock_shm_mapper vhost_vsock_shm
tap_plan
