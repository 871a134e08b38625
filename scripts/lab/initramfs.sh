#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a busybox initramfs for one level of the lab.
#   initramfs.sh l1|l2 OUT.cpio.gz [FILE...]
# l1: modules to mount the outer machine's root over 9p (see l1-init.sh).
# l2: vsock guest transport and virtio-net; FILEs (static programs) go to /bin.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LEVEL=$1 OUT=$2
shift 2
: "${KDIR:?KDIR not set}" "${KVER:?KVER not set}"
ROOT=$KDIR/root

case "$LEVEL" in
l1)	MODS="virtio_pci 9pnet_virtio 9p overlay virtio_console" ;;
l2)	MODS="virtio_pci vmw_vsock_virtio_transport virtio_net" ;;
*)	echo "initramfs: unknown level '$LEVEL'" >&2; exit 1 ;;
esac

BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" | grep -q 'statically linked' || {
	echo "initramfs: a static busybox is needed (package busybox-static)" >&2
	exit 1
}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T"/{bin,dev,proc,sys,tmp,mods,etc}
cp "$BUSYBOX" "$T/bin/busybox"

# Modules and their dependencies, in load order.
: > "$T/mods/order"
for m in $MODS; do
	modprobe -d "$ROOT" -S "$KVER" --show-depends "$m" |
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		b=$(basename "$path")
		grep -qx "$b" "$T/mods/order" && continue
		cp "$path" "$T/mods/$b"
		echo "$b" >> "$T/mods/order"
	done
done

cp "$HERE/$LEVEL-init.sh" "$T/init"
chmod 755 "$T/init"
for f in "$@"; do
	cp "$f" "$T/bin/"
done

# mktemp made the root 0700: unprivileged processes of the guest (the sdk
# suite's) must reach /run and /bin like on any system.
chmod 755 "$T"
mkdir -p "$(dirname "$OUT")"
(cd "$T" && find . | cpio -o -H newc --quiet) | gzip -1 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
