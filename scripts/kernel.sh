#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch and prepare the target kernel under build/kernel/<KVER>/:
#   debs/       the image, headers, kbuild and linux-source packages (cache)
#   root/       those packages unpacked with dpkg -x (nothing goes to /boot)
#   src/        the parts of linux-source the project builds from
#   vmlinux     the ELF image with .BTF, decompressed out of vmlinuz
#   vmlinux.h   the BPF header generated from that BTF
# and print "KVER=<abi>" and "KDIR=<dir>" on success.
#
# The ABI is resolved from linux-image-amd64 unless KVER is set.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

die() { echo "kernel: $*" >&2; exit 1; }

resolve_kver() {
	local dep
	dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$dep" ] || die "cannot resolve the ABI of linux-image-amd64 (run apt-get update?)"
	echo "${dep#linux-image-}"
}

KVER=${KVER:-}
if [ -z "$KVER" ]; then
	if [ -f "$BUILD/kernel/current" ]; then
		KVER=$(cat "$BUILD/kernel/current")
	else
		KVER=$(resolve_kver)
	fi
fi
case "$KVER" in
	6.1.*-amd64) ;;
	*) die "KVER '$KVER' is not a Debian 6.1 amd64 ABI (e.g. 6.1.0-56-amd64)" ;;
esac

K=$BUILD/kernel/$KVER
STAMP=$K/.ready
if [ -f "$STAMP" ]; then
	echo "$KVER" > "$BUILD/kernel/current"
	echo "KVER=$KVER"
	echo "KDIR=$K"
	exit 0
fi

mkdir -p "$K/debs" "$K/root" "$K/src"

ver=$(apt-cache show "linux-image-$KVER" 2>/dev/null |
      awk '/^Version:/ { print $2; exit }')
[ -n "$ver" ] || die "package linux-image-$KVER is not in the apt sources"
abi_common=${KVER%-amd64}-common
pkgs=("linux-image-$KVER=$ver" "linux-headers-$KVER=$ver"
      "linux-headers-$abi_common=$ver" "linux-kbuild-6.1=$ver"
      "linux-source-6.1=$ver")

# 1. Download (cached).
for p in "${pkgs[@]}"; do
	name=${p%%=*}
	if ! ls "$K/debs/${name}_"*.deb >/dev/null 2>&1; then
		echo "kernel: downloading $p"
		(cd "$K/debs" && apt-get download -q "$p" 2>&1 |
		 grep -v 'couldn.t be accessed by user' || true)
		ls "$K/debs/${name}_"*.deb >/dev/null 2>&1 ||
			die "package $p cannot be downloaded"
	fi
done

# 2. Unpack.
rm -rf "$K/root" && mkdir -p "$K/root"
for d in "$K"/debs/*.deb; do
	dpkg -x "$d" "$K/root"
done
HDR=$K/root/usr/src/linux-headers-$KVER
KB=$K/root/usr/lib/linux-kbuild-6.1
[ -f "$HDR/Makefile" ] || die "headers for $KVER missing after unpacking"
# The headers' Makefile includes the common tree by absolute path.
sed -i "s|/usr/src/linux-headers-$abi_common|$K/root/usr/src/linux-headers-$abi_common|" \
	"$HDR/Makefile"
ln -sfn "$HDR" "$K/headers"

# 3. The parts of linux-source used: the vhost driver (forked), the vsock
#    peer suite, kselftest headers, resolve_btfids and checkpatch.
echo "kernel: extracting linux-source"
rm -rf "$K/src" && mkdir -p "$K/src"
tar -xJf "$K/root/usr/src/linux-source-6.1.tar.xz" -C "$K/src" \
	--strip-components=1 \
	linux-source-6.1/drivers/vhost \
	linux-source-6.1/tools \
	linux-source-6.1/scripts \
	linux-source-6.1/include \
	linux-source-6.1/arch/x86/include \
	linux-source-6.1/Makefile || die "linux-source-6.1 extraction failed"
[ -f "$K/src/drivers/vhost/vsock.c" ] || die "drivers/vhost/vsock.c not in linux-source"

# 4. resolve_btfids (Debian's kbuild package lacks it).
echo "kernel: building resolve_btfids"
mkdir -p "$K/rbtf"
make -s -C "$K/src/tools/bpf/resolve_btfids" O="$K/rbtf" >"$K/rbtf.log" 2>&1 ||
	{ tail -20 "$K/rbtf.log" >&2; die "resolve_btfids build failed"; }
mkdir -p "$KB/tools/bpf/resolve_btfids"
cp "$K/rbtf/resolve_btfids" "$KB/tools/bpf/resolve_btfids/"

# 5. vmlinux with BTF, out of vmlinuz (an xz stream inside the bzImage).
VMLINUZ=$K/root/boot/vmlinuz-$KVER
off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -1 | cut -d: -f1)
[ -n "$off" ] || die "no xz stream in $VMLINUZ"
tail -c +$((off + 1)) "$VMLINUZ" | xz -dc 2>/dev/null > "$K/vmlinux" || true
file "$K/vmlinux" | grep -q ELF || die "vmlinux extracted from vmlinuz is not ELF"
cp "$K/vmlinux" "$HDR/vmlinux"
bpftool btf dump file "$K/vmlinux" format c > "$K/vmlinux.h" ||
	die "bpftool could not read the BTF of vmlinux"

# 6. Module index for the lab (modprobe -d root).
depmod -b "$K/root" "$KVER"

touch "$STAMP"
echo "$KVER" > "$BUILD/kernel/current"
echo "KVER=$KVER"
echo "KDIR=$K"
