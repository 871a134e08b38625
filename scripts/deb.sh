#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the Debian packages (debian/), built from a copy of the tree
# (every file git knows, committed or not) with dpkg-buildpackage, into
# build/deb/, then checked with lintian: an error or a warning that
# debian/*.lintian-overrides does not justify fails the build.
#   build/deb/*.deb           the packages
#   build/deb/build.log       dpkg-buildpackage's output
#   build/deb/lintian.log     lintian's
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
cd "$TOP"

# The policies are CO-RE: compiled once against the default kernel's BTF.
eval "$(scripts/kernel.sh | grep -E '^KDIR=')"
ver=$(dpkg-parsechangelog -l debian/changelog -S Version)
D=$BUILD/deb
S=$D/vsock-shm-$ver
rm -rf "$D"
mkdir -p "$S"
git ls-files -co --exclude-standard -z | cpio -0pdm --quiet "$S"

echo "deb: building vsock-shm $ver (log: $D/build.log)"
if ! (cd "$S" && VSOCK_SHM_VMLINUX_H=$KDIR dpkg-buildpackage -b -uc -us) \
	> "$D/build.log" 2>&1; then
	tail -30 "$D/build.log" >&2
	echo "deb: dpkg-buildpackage failed (full log: $D/build.log)" >&2
	exit 1
fi
rm -rf "$S"
changes=$(ls "$D"/*.changes)
if ! lintian --fail-on error,warning --info "$changes" > "$D/lintian.log" 2>&1; then
	cat "$D/lintian.log" >&2
	echo "deb: lintian found errors or warnings (debian/*.lintian-overrides justify the accepted ones)" >&2
	exit 1
fi
grep -E '^[EWIP]:' "$D/lintian.log" || true
(cd "$D" && ls -1 ./*.deb | sed 's|^\./|deb: |')
