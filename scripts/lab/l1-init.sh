#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of L1, the lab's host VM. Mounts the outer machine's root read-only
# over 9p with a tmpfs overlay, makes the target kernel's modules visible,
# then runs the lab command (lab.run=<dir>: <dir>/cmd, written by scripts/lab/l1)
# and records its exit status and the kernel log in <dir>, which is shared
# read-write with the outer machine.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

for m in $(cat /mods/order); do
	insmod /mods/$m || echo "l1-init: insmod $m failed"
done

run=
kver=$(uname -r)
moddir=
outer=
for a in $(cat /proc/cmdline); do
	case "$a" in
	lab.run=*) run=${a#lab.run=} ;;
	lab.mod=*) moddir=${a#lab.mod=} ;;
	lab.outer=*) outer=${a#lab.outer=} ;;
	esac
done

fail() {
	echo "l1-init: $*"
	poweroff -f
}

mkdir -p /lower /rw /root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 host /lower ||
	fail "cannot mount the outer root over 9p"
mount -t tmpfs -o size=1G tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /root ||
	fail "cannot mount the overlay"
for d in proc sys dev; do
	mount --bind /$d /root/$d
done
mount -t tmpfs tmpfs /root/run
mount -t debugfs debugfs /root/sys/kernel/debug 2>/dev/null
mount -t bpf bpf /root/sys/fs/bpf 2>/dev/null
mkdir -p /root/dev/pts /root/dev/shm /root/dev/hugepages
mount -t devpts devpts /root/dev/pts
ln -sf /proc/self/fd /root/dev/fd
ln -sf /proc/self/fd/0 /root/dev/stdin
ln -sf /proc/self/fd/1 /root/dev/stdout
ln -sf /proc/self/fd/2 /root/dev/stderr
mount -t tmpfs tmpfs /root/dev/shm
if [ -n "$moddir" ]; then
	mkdir -p "/root/lib/modules/$kver"
	mount --bind "/root$moddir" "/root/lib/modules/$kver" ||
		fail "cannot bind the modules of $kver"
fi
# Another root than the outer machine's (scripts/lab/l1 --root): the outer
# one read-only at /outer, its project and build directories at their paths.
if [ -n "$outer" ]; then
	mkdir -p /outer
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 outer /outer ||
		fail "cannot mount the outer root over 9p"
	for d in $(echo "$outer" | tr , ' '); do
		mkdir -p "/root$d"
		mount --bind "/outer$d" "/root$d" || fail "cannot bind $d"
	done
fi
mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 out "/root$run" ||
	fail "cannot mount the run directory"

hostname lab-l1
ip link set lo up

# Kernel text symbols (no KASLR: the same every boot), for the diagnosis of
# a hung L1 (scripts/lab/l1); modules loaded later are not in it.
grep ' [tT] ' /proc/kallsyms > "/root$run/kallsyms" 2>/dev/null
echo "l1-init: up in $(cut -d' ' -f1 /proc/uptime) s"
if [ -z "$outer" ]; then
	chroot /root /bin/sh -c "cd / && exec /bin/bash $run/cmd" < /dev/console > /dev/console 2>&1
	echo $? > "/root$run/rc"
	dmesg > "/root$run/dmesg"
	sync
	umount "/root$run"
	poweroff -f
fi
# On another root, that root becomes the machine's own (switch_root, not a
# chroot): udev and systemd's tools refuse to work in a chroot.
exec switch_root /root /bin/sh -c "cd / && /bin/bash $run/cmd < /dev/console > /dev/console 2>&1
	echo \$? > $run/rc
	dmesg > $run/dmesg
	sync
	umount $run
	/bin/busybox poweroff -f"
