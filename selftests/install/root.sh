#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian 12 root an installation is tried in (selftests/install/run.sh):
# what a KVM host has (QEMU, udev, kmod, DKMS and its compiler), made once
# with debootstrap as build/buildroot/install-base/root, then copied afresh
# for each run to build/install/<abi>/root with the target kernel's image,
# headers and linux-source packages installed by dpkg. L1 boots it as its
# root (scripts/lab/l1 --root).
#
#   selftests/install/root.sh ABI      prints ROOT=<dir>
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
BUILD=${BUILD:-$TOP/build}
abi=${1:?usage: root.sh ABI}
die() { echo "install-root: $*" >&2; exit 1; }

# A host's packages (libvirt's with apt-get: debootstrap cannot configure
# systemd-container); bash, procps and busybox for the lab's own scripts.
INSTALL_BASE_PKGS="dkms gcc make libc6-dev dwarves libelf-dev zlib1g-dev \
xz-utils zstd patch kmod udev linux-base initramfs-tools qemu-system-x86 \
busybox procps iproute2 pkg-config libbpf1 adduser openssl python3"
INSTALL_APT_PKGS="libvirt-daemon-system libvirt-clients"

BUILDROOT_NAME=install-base BUILDROOT_PKGS="$INSTALL_BASE_PKGS" \
	BUILDROOT_APT_PKGS="$INSTALL_APT_PKGS" \
	"$TOP/scripts/buildroot.sh" prepare bookworm >&2
base=$BUILD/buildroot/install-base/root
K=$BUILD/kernel/$abi/debs
ls "$K"/linux-image-*.deb >/dev/null 2>&1 || die "no kernel packages in $K (scripts/kernel.sh)"

R=$BUILD/install/$abi/root
rm -rf "$R"
mkdir -p "$R"
cp -a "$base/." "$R/"
# The kernel's packages, as apt would install them; the lab boots its own
# initramfs, so none is made here (its kernel hook goes).
rm -f "$R/etc/kernel/postinst.d/initramfs-tools"
if ! "$TOP/scripts/buildroot.sh" run "$R" -- dpkg -i "$K"/*.deb > "$R.kernel.log" 2>&1; then
	tail -20 "$R.kernel.log" >&2
	die "the kernel packages of $abi did not install (log: $R.kernel.log)"
fi
echo "ROOT=$R"
