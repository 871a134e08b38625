#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the build and the lab need. Idempotent: a
# package already installed is skipped, and apt-get runs only when something
# is missing. A package that cannot be had stops the build, naming it.
set -euo pipefail

PKGS=(
	build-essential gcc make patch bc flex bison pkg-config file xz-utils zstd
	clang llvm libbpf-dev bpftool dwarves libelf-dev zlib1g-dev
	kmod cpio busybox-static qemu-system-x86 socat iproute2
	libcriterion-dev libclang-rt-14-dev groff-base jq
	debootstrap
	debhelper dh-dkms dpkg-dev fakeroot lintian
	python3 dh-python
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "packages: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "packages: need root to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
for p in "${missing[@]}"; do
	if ! apt-cache show "$p" >/dev/null 2>&1; then
		echo "packages: '$p' cannot be found in the configured apt sources" >&2
		exit 1
	fi
done
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
	echo "packages: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi
