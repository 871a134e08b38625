#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The installed packages at work, in L1 booted on the root that
# selftests/install/run.sh installed them into: only installed programs on
# the path, the modules DKMS built, udev's rule, the unit's commands, a
# guest (L2, its initramfs made of the installed guest programs) sharing
# with the installed vshm-server and with the example server built against
# the installed pkg-config files, run as an unprivileged member of the
# vsock-shm group; the SDK's example pairs (frames, buffer-service) too,
# their guest programs given to L2 with scripts/lab/l2 --add.
#   selftests/install/in-l1.sh EXAMPLES_DIR     (TAP: $LAB_RUN/install.tap)
set -uo pipefail

EX=${1:?usage: in-l1.sh EXAMPLES_DIR}
OUT=$LAB_RUN/install.tap SUITE=install
. "$(dirname "$0")/../lib.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
PORT=7400
lsmod_has() { lsmod | awk -v m="$1" '$1 == m { f = 1 } END { exit !f }'; }
export -f lsmod_has
# l2 [--add FILE]... -- COMMAND...: a guest booted on the installed programs.
l2() {
	L2_INITRD=$EX/l2.cpio.gz scripts/lab/l2 -c 3 -m 256M -t 300 "$@"
}
# as_member COMMAND...: COMMAND as the unprivileged member of vsock-shm.
as_member() { setpriv --reuid=vshm-test --regid=vshm-test --init-groups "$@"; }

modprobe kvm_amd
modprobe -a kvm vhost vsock
/lib/systemd/systemd-udevd --daemon > /dev/null 2>&1

# What a VMM's open of /dev/vhost-vsock does on a host where nothing has
# loaded a vhost-vsock module yet: the kernel asks modprobe for
# char-major-10-241, an alias of both modules (the node is made at boot
# from modules.devname, as kmod static-nodes does).
[ -e /dev/vhost-vsock ] || mknod /dev/vhost-vsock c 10 241
check open_loads_the_fork bash -c \
	'exec 3<> /dev/vhost-vsock && lsmod_has vhost_vsock_shm && ! lsmod_has vhost_vsock'
check open_loads_the_mapper lsmod_has vsock_shm_mapper
modprobe -r vsock_shm_mapper vhost_vsock_shm

# What QEMU and libvirt make happen too: modprobe vhost_vsock.
check modprobe_vhost_vsock_loads_the_fork bash -c \
	'modprobe vhost_vsock && lsmod_has vhost_vsock_shm && ! lsmod_has vhost_vsock'
check mapper_loaded_beside lsmod_has vsock_shm_mapper
check modules_built_by_dkms bash -c \
	"modinfo -n vhost_vsock_shm | grep -q '/updates/dkms/' &&
	 modinfo -n vsock_shm_mapper | grep -q '/updates/dkms/'"
check module_signed_by_dkms bash -c "modinfo -F signer vhost_vsock_shm | grep -q ."
udevadm trigger --subsystem-match=misc --action=add
udevadm settle -t 10
check mapper_device_to_group eq "$(stat -c '%G %a' /dev/vsock-shm-mapper)" "vsock-shm 660" \
	"/dev/vsock-shm-mapper"

# The unit's start, as systemd runs it.
check unit_start bash -c "$(unit_cmd ExecStartPre) && $(unit_cmd ExecStart)"
check unit_loaded_default bash -c "vsock-shmctl policy show | grep -q '^policy: default'"
base_pins=$(pins)

# The installed server and guest.
vshm-server --port $PORT > "$R/install-server.log" 2>&1 &
srv=$!
sleep 0.3
l2 -- vshm-guest share --port $PORT --size 4M > "$R/install-guest.log" 2>&1
check installed_guest_shares eq "$?" 0 "vshm-guest"
kill $srv 2>/dev/null
wait $srv 2>/dev/null
check installed_server_checked grep -q 'check=ok' "$R/install-server.log"

# The example server, built against the installed pkg-config files, run as
# an unprivileged member of the vsock-shm group; the example guest, linked
# with the installed static library: both print the region's checksum.
as_member "$EX/server-map" --port $((PORT + 1)) --count 1 --verify 0x1234 --timeout 240 \
	> "$R/install-example-server.log" 2>&1 &
srv=$!
sleep 0.3
l2 -- guest-share --port $((PORT + 1)) --size 4M --seed 0x1234 > "$R/install-example-guest.log" 2>&1
check example_guest_shares eq "$?" 0 "guest-share"
wait $srv
check example_server_maps_as_group_member eq "$?" 0 "server-map"
sum_of() { grep -o 'fnv1a64=[0-9a-f]*' "$1" | head -1; }
check example_checksums_agree bash -c "[ -n '$(sum_of "$R/install-example-server.log")' ] &&
	[ '$(sum_of "$R/install-example-server.log")' = '$(sum_of "$R/install-example-guest.log")' ]"
check example_verify_ok grep -q 'verify=ok' "$R/install-example-server.log"

# The SDK's examples, built against the installed pkg-config files: each
# host program as the unprivileged member, its guest program (static) put
# into an L2 guest with scripts/lab/l2 --add. A few MiB each.
# frames: 128 frames of 32 KiB through a channel, doorbells both ways.
FR="--frames 128 --frame-size 32768 --slots 8"
as_member "$EX/frame-consumer" --port $((PORT + 2)) --timeout 240 \
	> "$R/install-frames-host.log" 2>&1 &
srv=$!
l2 --add "$EX/frame-producer" -- frame-producer --port $((PORT + 2)) $FR \
	> "$R/install-frames-guest.log" 2>&1
check frames_producer_streams eq "$?" 0 "frame-producer"
wait $srv
check frames_consumer_as_group_member eq "$?" 0 "frame-consumer"
check frames_all_acknowledged_good grep -q \
	'frame-producer: frames=128 bytes=4194304 acked=128 bad=0 ' "$R/install-frames-guest.log"
check frames_all_checked_by_host grep -qE \
	'frame-consumer: region [0-9]+ cid=3 frames=128 bytes=4194304 checksum_ok=128 bad=0 .*ended=freed' \
	"$R/install-frames-host.log"
# Each side slept at least once and was woken by the other's doorbell.
check frames_doorbells_both_ways grep -qE \
	'doorbells_in=[1-9][0-9]* doorbells_out=[1-9][0-9]* ' "$R/install-frames-host.log"
# buffer-service: a 2 MiB buffer of the client's own, read 8 times.
as_member "$EX/buffer-service" --port $((PORT + 3)) --timeout 240 \
	> "$R/install-bufsvc-host.log" 2>&1 &
srv=$!
l2 --add "$EX/buffer-client" -- buffer-client --port $((PORT + 3)) --size 2M --rounds 8 \
	--seed 0x77 > "$R/install-bufsvc-guest.log" 2>&1
check bufsvc_client_answered eq "$?" 0 "buffer-client"
wait $srv
check bufsvc_service_as_group_member eq "$?" 0 "buffer-service"
check bufsvc_every_answer_right eq \
	"$(grep -cE '^(\[l2:3\] )?buffer-client: round [1-8] checksum=[0-9a-f]{16} ok' "$R/install-bufsvc-guest.log")" 8 \
	"rounds answered right"
check bufsvc_found_by_cookie grep -q \
	'buffer-service: region [0-9]* cid=3 port=[0-9]* cookie=0x6275662d73766331 size=2097152 found' \
	"$R/install-bufsvc-host.log"
check bufsvc_revocation_logged_with_reason grep -qE \
	'buffer-service: region [0-9]+ cid=3 cookie=0x6275662d73766331 revoked \(freed\)' \
	"$R/install-bufsvc-host.log"
check bufsvc_reads_counted grep -qE \
	'buffer-service: region [0-9]+ cid=3 rounds=8 bytes_read=16776704 ended \(freed\)' \
	"$R/install-bufsvc-host.log"

# The unit's stop.
check pins_back eq "$(pins)" "$base_pins" "pins"
check unit_stop bash -c "$(unit_cmd ExecStop)"
check unit_unloaded bash -c "vsock-shmctl policy show | grep -q '^policy: none'"
check modules_unload modprobe -r vsock_shm_mapper vhost_vsock_shm
tap_plan
