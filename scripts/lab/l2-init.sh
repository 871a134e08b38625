#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of an L2 guest. Loads the vsock guest transport and virtio-net,
# brings up 10.0.2.15/24 on eth0 (QEMU user networking, L1 at 10.0.2.2),
# runs the command given after "--" on the kernel command line, prints its
# status as "@@L2-RC=<n>@@" and any kernel oops/WARN/BUG as "@@L2-KERNEL: ...",
# then powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmpfs /tmp
for m in $(cat /mods/order); do
	insmod /mods/$m || echo "l2-init: insmod $m failed"
done
ip link set lo up
if [ -d /sys/class/net/eth0 ]; then
	ip addr add 10.0.2.15/24 dev eth0
	ip link set eth0 up
	ip route add default via 10.0.2.2
fi
[ -e /dev/vsock ] || echo "l2-init: /dev/vsock is missing"

echo "l2-init: up in $(cut -d' ' -f1 /proc/uptime) s, running: $*"
"$@"
rc=$?
dmesg | grep -E 'Oops|WARNING:|BUG:|Call Trace|general protection' |
	sed 's/^/@@L2-KERNEL: /'
echo "@@L2-RC=$rc@@"
poweroff -f
