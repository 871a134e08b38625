#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS's MAKE command (dkms.conf): builds vhost_vsock_shm.ko and
# vsock_shm_mapper.ko for one installed kernel, in DKMS's copy of the module
# sources (the current directory), into ./out/.
#
#   dkms/build.sh KERNELVER KERNEL_SOURCE_DIR
#
# The fork is made from drivers/vhost/vsock.c of the linux-source package of
# exactly the kernel's version: it uses vhost's private structures
# (drivers/vhost/vhost.h), whose layout must be the running kernel's. The
# version is that of the kernel's headers package (Debian builds image,
# headers and linux-source from one source package). Anything missing stops
# the build with a message naming the package to install.
#
# Module BTF (the kfuncs need it) wants a vmlinux with .BTF and, on 6.1,
# a resolve_btfids that Debian's kbuild package lacks: both are made here
# (vmlinux out of /boot/vmlinuz-KERNELVER, resolve_btfids from the same
# linux-source), and kbuild runs in a shadow of the headers directory that
# has them, so nothing under /usr/src is written.
set -euo pipefail

die() {
	echo "vsock-shm: $*" >&2
	exit 1
}
[ $# = 2 ] || die "usage: dkms/build.sh KERNELVER KERNEL_SOURCE_DIR"
kver=$1 hdr=$2
here=$(pwd -P)
# shellcheck source=btf.sh
. "$here/dkms/btf.sh"

# 1. The exact linux-source.
hpkg=linux-headers-$kver
hver=$(dpkg-query -W -f='${Version}' "$hpkg" 2>/dev/null) ||
	die "$hpkg is not installed: apt-get install $hpkg"
series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$hver")
spkg=linux-source-$series
sver=$(dpkg-query -W -f='${db:Status-Status} ${Version}' "$spkg" 2>/dev/null || true)
if [ "${sver%% *}" != installed ]; then
	die "building for $kver needs $spkg $hver, the source of that exact kernel \
(the fork is made from its vhost driver): apt-get install $spkg=$hver"
fi
sver=${sver#* }
if [ "$sver" != "$hver" ]; then
	die "building for $kver needs $spkg at version $hver (that of $hpkg); \
version $sver is installed: apt-get install $spkg=$hver (or build for the \
kernel that source belongs to)"
fi
tarball=$(find /usr/src -maxdepth 1 -name "$spkg.tar.*" | sort | head -1)
[ -n "$tarball" ] || die "$spkg is installed but /usr/src/$spkg.tar.* is missing: apt-get install --reinstall $spkg"

# 2. What kbuild needs for module BTF.
rbtf=$hdr/tools/bpf/resolve_btfids/resolve_btfids
need_tools=
[ -x "$rbtf" ] || need_tools=$spkg/tools

K=$here/kernel
rm -rf "$K" out
mkdir -p "$K/src" "$K/headers" out
echo "vsock-shm: extracting the vhost driver from $spkg $sver"
S=$spkg
# shellcheck disable=SC2086
tar -xf "$tarball" -C "$K/src" --strip-components=1 \
	$S/drivers/vhost/vsock.c $S/drivers/vhost/vhost.h \
	${need_tools:+$need_tools $S/scripts $S/include $S/arch/x86/include $S/Makefile} ||
	die "cannot extract the vhost driver from $tarball"

if [ -n "$need_tools" ]; then
	echo "vsock-shm: building resolve_btfids (the kbuild package of $kver has none)"
	mkdir -p "$K/rbtf"
	make -s -C "$K/src/tools/bpf/resolve_btfids" O="$K/rbtf" >"$K/rbtf.log" 2>&1 ||
		{ tail -20 "$K/rbtf.log" >&2; die "resolve_btfids did not build (it needs python3, libelf-dev and zlib1g-dev)"; }
	rbtf=$K/rbtf/resolve_btfids
fi

vmlinux=$hdr/vmlinux
if ! has_btf "$vmlinux"; then
	vmlinux=$K/vmlinux
	if [ -r "/boot/vmlinuz-$kver" ]; then
		extract_vmlinux "/boot/vmlinuz-$kver" "$vmlinux" ||
			die "no image with BTF found in /boot/vmlinuz-$kver (is linux-image-$kver installed?)"
	elif [ "$kver" = "$(uname -r)" ] && [ -r /sys/kernel/btf/vmlinux ]; then
		cp /sys/kernel/btf/vmlinux "$vmlinux"
	else
		die "no BTF for $kver: neither $hdr/vmlinux nor /boot/vmlinuz-$kver"
	fi
fi

# The shadow headers: every entry of the headers directory by absolute link,
# but vmlinux and tools/, which get what was found above.
for e in "$hdr"/* "$hdr"/.[!.]*; do
	[ -e "$e" ] || continue
	case "${e##*/}" in vmlinux|tools) continue ;; esac
	ln -s "$(readlink -f "$e")" "$K/headers/${e##*/}"
done
mkdir -p "$K/headers/tools/bpf/resolve_btfids"
for e in "$hdr"/tools/*; do
	[ -e "$e" ] || continue
	[ "${e##*/}" = bpf ] || ln -s "$(readlink -f "$e")" "$K/headers/tools/${e##*/}"
done
ln -s "$(readlink -f "$rbtf")" "$K/headers/tools/bpf/resolve_btfids/resolve_btfids"
ln -s "$(readlink -f "$vmlinux")" "$K/headers/vmlinux"

# 3. The fork and the modules, with the tree's own Makefile.
make -C "$here" KDIR="$K" OUT="$here/out"
