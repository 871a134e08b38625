#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The install suite: build/deb's packages installed with dpkg into a fresh
# Debian 12 root holding the target kernel's image, headers and source
# (root.sh); DKMS builds the modules there for that kernel; the examples
# (server-map and guest-share, frames, buffer-service) are built against
# the installed pkg-config files; L1 boots that root and
# runs selftests/install/in-l1.sh (its results continue this suite's TAP);
# then selftests/libvirt/in-l1.sh in the same L1 (libvirt.tap beside OUT);
# then every package is purged and the root must hold what it held before.
# Runs on the outer machine, after "make deb".
#   selftests/install/run.sh ABI OUT.tap
set -uo pipefail

abi=${1:?usage: run.sh ABI OUT.tap} OUT=${2:?usage: run.sh ABI OUT.tap} SUITE=install
TOP=$(cd "$(dirname "$0")/../.." && pwd -P)
BUILD=$(cd "${BUILD:-$TOP/build}" && pwd -P)
KVER=$abi
. "$TOP/selftests/lib.sh"
cd "$TOP"
X=$BUILD/install/$abi
PKGS="vsock-shm-dkms vsock-shm-host vsock-shm-guest libvsock-shm-guest0 libvsock-shm-server0 libvsock-shm-dev python3-vsock-shm"
# ko_section FILE NAME: the size of section NAME of a module (.ko, .ko.xz
# or .ko.zst), in bytes; empty if it has none.
ko_section() {
	local f=$1 t=$X/ko.tmp hex
	case "$f" in
	"") return 1 ;;
	*.xz) xz -dc "$f" > "$t" ;;
	*.zst) zstd -qdc "$f" > "$t" ;;
	*) cp "$f" "$t" ;;
	esac
	hex=$(readelf -SW "$t" | awk -v n="$2" '$2 == n { print $6 } $3 == n { print $7 }')
	rm -f "$t"
	[ -z "$hex" ] || echo $((16#$hex))
}
has_btf_ko() { [ -n "$(ko_section "$1" .BTF)" ]; }
# Static per-CPU data comes from a reserve all modules share (8 KiB on
# x86_64): a module must take little of it, or it fails to load beside a
# host's drivers.
small_percpu_ko() {
	local n
	[ -n "$1" ] || return 1
	n=$(ko_section "$1" .data..percpu)
	[ "${n:-0}" -le 256 ]
}
give_up() { emit "not ok" "$1"; tap_plan; exit 1; }
in_root() { "$TOP/scripts/buildroot.sh" run "$R" -- "$@"; }
# in_root_says ERE CMD...: CMD's output in the root, read whole, matches ERE.
in_root_says() {
	local re=$1
	shift
	grep -qE -- "$re" <<<"$(in_root "$@" 2>&1)"
}
# Every path of the root but the mounted ones (this tree and the build).
root_files() {
	in_root find / -xdev \( -path /proc -o -path /dev -o -path /sys -o -path "$TOP" \
		-o -path "$BUILD" -o -path /var/log -o -path /var/cache \) -prune -o -print |
		LC_ALL=C sort
}

debs=$(ls "$BUILD"/deb/*.deb 2>/dev/null | grep -v -- -dbgsym_)
[ -n "$debs" ] || give_up "packages_built (no build/deb/*.deb: make deb)"
R=$(selftests/install/root.sh "$abi" | sed -n 's/^ROOT=//p')
[ -n "$R" ] || give_up "root_with_kernel_packages"
emit ok root_with_kernel_packages
root_files > "$X/files-before"

# 1. dpkg -i, as an operator would (apt-get install ./*.deb resolves the
#    same dependencies from the archive; the root has them already).
# shellcheck disable=SC2086
in_root dpkg -i $debs > "$X/dpkg-install.log" 2>&1
check packages_install eq "$?" 0 "dpkg -i (log: $X/dpkg-install.log)"
check dkms_built_for_the_kernel in_root_says ': installed' dkms status -k "$abi" vsock-shm
for m in vhost_vsock_shm vsock_shm_mapper; do
	f=$(ls "$R/lib/modules/$abi/updates/dkms/$m.ko"* 2>/dev/null | head -1)
	check "${m}_has_btf" has_btf_ko "$f"
	check "${m}_takes_little_static_percpu" small_percpu_ko "$f"
done
# DKMS's build names the package that is missing (dkms/build.sh, run on a
# copy of the installed sources, so that nothing is left in /usr/src).
ver=$(dpkg-deb -f "$(ls "$BUILD"/deb/vsock-shm-dkms_*.deb | head -1)" Version)
hver=$(in_root dpkg-query -W -f='${Version}' "linux-headers-$abi")
series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$hver")
in_root sh -c "rm -rf /tmp/vsock-shm-src && cp -r /usr/src/vsock-shm-$ver /tmp/vsock-shm-src"
in_root dpkg --remove "linux-source-$series" > /dev/null 2>&1
dkms_build() {	# KERNELVER: dkms/build.sh's output for it
	"$TOP/scripts/buildroot.sh" run "$R" -- sh -c \
		"cd /tmp/vsock-shm-src && bash dkms/build.sh $1 /lib/modules/$1/build" 2>&1
}
# (The output is read whole: grep -q ending a pipe early fails it through
# SIGPIPE under pipefail.)
names_source() {
	grep -qF "apt-get install linux-source-$series=$hver" <<<"$(dkms_build "$abi")"
}
names_headers() {
	grep -qF 'apt-get install linux-headers-6.1.0-999-amd64' <<<"$(dkms_build 6.1.0-999-amd64)"
}
check dkms_build_names_missing_source names_source
check dkms_build_names_missing_headers names_headers
in_root dpkg -i "$BUILD/kernel/$abi/debs/linux-source-$series"_*.deb > /dev/null 2>&1
in_root rm -rf /tmp/vsock-shm-src
check modprobe_rule in_root_says 'install /sbin/modprobe --ignore-install vhost_vsock_shm' \
	modprobe -S "$abi" -n -v vhost_vsock
in_root useradd --system --no-create-home --groups vsock-shm vshm-test

# 2. The examples, built in the root against the installed pkg-config files
#    (the tree is read-only there): the server linked with the shared
#    library, the guest static for L2's initramfs.
E=$X/examples
mkdir -p "$E"
check example_server_builds_from_pkg_config \
	in_root make -s -C "$TOP/examples/server-map" O="$E"
check example_guest_builds_static_from_pkg_config \
	in_root make -s -C "$TOP/examples/guest-share" O="$E" STATIC=1
# The Python bindings load the installed server library.
check python_bindings_load_installed_library in_root_says \
	'/(usr/)?lib/x86_64-linux-gnu/libvsock-shm-server.so.0' \
	python3 -c 'import vsock_shm; print(open("/proc/self/maps").read())'
check example_server_uses_installed_library in_root_says \
	'libvsock-shm-server.so.0 => /(usr/)?lib/x86_64-linux-gnu/libvsock-shm-server.so.0' \
	ldd "$E/server-map"
# The pairs of the SDK (frames over a channel, a buffer service): the host
# program shared, the guest program static (in-l1.sh gives it to its L2
# guest with scripts/lab/l2 --add).
for ex in frames:frame-consumer:frame-producer buffer-service:buffer-service:buffer-client; do
	IFS=: read -r exdir exhost exguest <<<"$ex"
	check "example_${exdir//-/_}_host_builds_from_pkg_config" \
		in_root make -s -C "$TOP/examples/$exdir" O="$E" host
	check "example_${exdir//-/_}_guest_builds_static_from_pkg_config" \
		in_root make -s -C "$TOP/examples/$exdir" O="$E" STATIC=1 guest
	check "example_${exdir//-/_}_host_uses_installed_library" in_root_says \
		'libvsock-shm-server.so.0 => /(usr/)?lib/x86_64-linux-gnu/libvsock-shm-server.so.0' \
		ldd "$E/$exhost"
done
KDIR=$BUILD/kernel/$abi KVER=$abi scripts/lab/initramfs.sh l2 "$E/l2.cpio.gz" \
	"$R/usr/bin/vshm-guest" "$R/usr/bin/vsock_echo" "$E/guest-share"
check guest_initramfs_of_installed_programs test -s "$E/l2.cpio.gz"

# 3. In L1 booted on the root: the installation at work (its results
#    continue this suite's), then libvirt (selftests/libvirt, a suite of its
#    own: libvirt.tap beside OUT).
# shellcheck disable=SC2016
KVER=$abi scripts/lab/l1 -t 1500 -n "install-$abi" --root "$R" -- bash -c \
	'selftests/install/in-l1.sh "$1"; selftests/libvirt/in-l1.sh "$1"' in-l1 "$E" \
	> "$X/l1.log" 2>&1
l1rc=$?
lvtap=$BUILD/lab/runs/install-$abi/libvirt.tap
if [ -s "$lvtap" ]; then
	cp "$lvtap" "$(dirname "$OUT")/libvirt.tap"
else
	printf 'not ok 1 libvirt: the suite left no results (%s)\n1..1\n' "$X/l1.log" \
		> "$(dirname "$OUT")/libvirt.tap"
fi
l1tap=$BUILD/lab/runs/install-$abi/install.tap
sed -nE 's/^(not ok|ok) [0-9]+ install\/(.*)$/\1 \2/p' "$l1tap" 2>/dev/null |
	while read -r verdict name; do
		[ "$verdict" = not ] && verdict="not ok" name=${name#ok }
		emit "$verdict" "l1/$name"
	done > "$X/l1-emitted"
n=$((n + $(grep -c . "$X/l1-emitted")))
grep '^#' "$l1tap" 2>/dev/null >> "$OUT"
[ -s "$X/l1-emitted" ] || emit "not ok" "l1_results (none: $X/l1.log)"
check l1_clean eq "$l1rc" 0 "L1 (exit 123 froze, 125 kernel error; $X/l1.log)"
[ "$l1rc" = 0 ] || tail -20 "$X/l1.log" | sed 's/^/# /' >> "$OUT"

# 4. Purge: nothing of the packages is left. What stays by design: the
#    vsock-shm group (Debian leaves system groups), DKMS's own signing key
#    (made for the first module it signs, kept for every other), and the
#    backups of /etc/passwd and /etc/group that adding a user or a group
#    makes.
in_root userdel vshm-test
# shellcheck disable=SC2086
in_root dpkg --purge $PKGS > "$X/dpkg-purge.log" 2>&1
check packages_purge eq "$?" 0 "dpkg --purge (log: $X/dpkg-purge.log)"
root_files > "$X/files-after"
LC_ALL=C comm -3 "$X/files-before" "$X/files-after" |
	grep -vxE '[[:space:]]*/(etc/(passwd|group|shadow|gshadow)-|var/lib/dkms/mok\.(key|pub))' \
	> "$X/files-left"
check uninstall_leaves_nothing eq "$(wc -l < "$X/files-left")" 0 \
	"paths added (indented: removed) by install and purge: $(head -5 "$X/files-left" | tr '\n' ' ')"
tap_plan
