#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A Debian build root for kernels this machine cannot build modules for:
# trixie's 6.12 is built with gcc-14 (its headers call x86_64-linux-gnu-gcc-14
# and pass options gcc-12 lacks) and its kbuild tools (modpost, objtool) need
# trixie's glibc. The root is made once with debootstrap from Debian's archive
# and kept:
#   build/buildroot/<suite>/root     the root (minbase + $BUILDROOT_PKGS)
#   build/buildroot/<suite>/cache    the packages debootstrap fetched (cache)
#
#   scripts/buildroot.sh prepare SUITE         make the root if needed
#   scripts/buildroot.sh run SUITE -- CMD...   run CMD in it
#   scripts/buildroot.sh run /DIR -- CMD...    run CMD in the root at /DIR
#                                              (a copy of one, say)
#
# BUILDROOT_NAME names a root of other packages than the build root's
# (build/buildroot/<name>/root, default: the suite's name).
# BUILDROOT_APT_PKGS are installed after debootstrap, with apt-get in the
# root (packages whose configuration debootstrap cannot do, such as
# libvirt's systemd-container); apt's downloads are cached in
# build/buildroot/<name>/apt-archives.
#
# "run" executes CMD as root in the current directory, inside the root, with
# the project ($TOP, read-only) and $BUILD (read-write) mounted at the same
# paths, so the paths kernel.sh prepared hold inside as outside. The mounts
# live in a mount namespace of their own (unshare): they are gone when CMD
# ends, however it ends, and the machine's mount table never sees them.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${BUILD:-$TOP/build}

die() { echo "buildroot: $*" >&2; exit 1; }

# What building an out-of-tree module against Debian's headers takes: the
# compiler the kernel was built with, make, pahole for the module's BTF
# (CONFIG_DEBUG_INFO_BTF_MODULES), and libelf for objtool, modpost and
# resolve_btfids of the kbuild package.
BUILDROOT_PKGS=${BUILDROOT_PKGS:-gcc-14 make dwarves libelf1t64}
# The machine's Debian mirror, or deb.debian.org.
mirror() {
	local m
	m=${BUILDROOT_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' \
		'Origin: Debian' 'Label: Debian' 2>/dev/null | head -1)}
	m=${m:-http://deb.debian.org/debian}
	echo "${m%/}"
}

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mounts)"
[ $# -ge 2 ] || die "usage: $0 prepare SUITE | run SUITE -- CMD..."
cmd=$1 suite=$2
shift 2
D=$BUILD/buildroot/${BUILDROOT_NAME:-$suite}
R=$D/root
if [ "$cmd" = run ] && [ "${suite#/}" != "$suite" ]; then
	[ -x "$suite/bin/sh" ] || die "$suite is not a root"
	R=$(cd "$suite" && pwd -P) D=
fi
[ -z "$D" ] || [[ $suite =~ ^[a-z]+$ ]] || die "'$suite' is not a Debian suite name"

# The root is ready when its stamp records the packages asked for now;
# otherwise it is made again (from the cached packages) beside and swapped in.
prepare() {
	local want m new=$D/root.new log=$D/debootstrap.log t0=$SECONDS
	m=$(mirror)
	want="$suite $m ${BUILDROOT_PKGS// /,} ${BUILDROOT_APT_PKGS:-}"
	[ "$(cat "$R/.ready" 2>/dev/null)" = "$want" ] && return 0
	command -v debootstrap >/dev/null ||
		die "debootstrap is not installed (run make deps, or scripts/packages.sh)"
	[ -f "/usr/share/debootstrap/scripts/$suite" ] ||
		die "this debootstrap ($(dpkg-query -W -f='${Version}' debootstrap)) does not know $suite"
	echo "buildroot: making the $suite build root ($BUILDROOT_PKGS) from $m"
	mkdir -p "$D/cache"
	rm -rf "$new"
	if ! debootstrap --variant=minbase --merged-usr \
		--include="${BUILDROOT_PKGS// /,}" \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		--cache-dir="$D/cache" \
		"$suite" "$new" "$m" >"$log" 2>&1; then
		grep -E '^[EW]:' "$log" >&2 || tail -5 "$log" >&2
		rm -rf "$new"
		die "debootstrap of $suite failed (full log: $log)"
	fi
	if [ -n "${BUILDROOT_APT_PKGS:-}" ]; then
		echo "buildroot: installing $BUILDROOT_APT_PKGS with apt-get"
		mkdir -p "$D/apt-archives/partial"
		# shellcheck disable=SC2086
		if ! R=$new run -- sh -c "apt-get update -q &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends -o Dir::Cache::Archives=$D/apt-archives \
			$BUILDROOT_APT_PKGS" >>"$log" 2>&1; then
			tail -20 "$log" >&2
			rm -rf "$new"
			die "apt-get install in the $suite root failed (full log: $log)"
		fi
	fi
	# Nothing is to be downloaded into the root itself.
	rm -rf "$new/var/cache/apt/archives/"*.deb "$new/var/lib/apt/lists/"*_Packages
	for p in $BUILDROOT_PKGS ${BUILDROOT_APT_PKGS:-}; do
		chroot "$new" dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
			grep -qx installed || die "$p is not installed in the $suite build root"
	done
	echo "$want" > "$new/.ready"
	rm -rf "$R"
	mv "$new" "$R"
	echo "buildroot: $suite ready in $((SECONDS - t0)) s, $(du -sh "$R" | cut -f1) ($R)"
}

# Runs "$@" in the root, in the current directory (/ if that is outside the
# mounted paths), with a clean environment but for MAKEFLAGS.
run() {
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || die "run: no command"
	local dir
	dir=$(pwd -P)
	case "$dir/" in "$TOP"/*|"$BUILD"/*) ;; *) dir=/ ;; esac
	# shellcheck disable=SC2016
	unshare --mount --propagation private -- /bin/bash -euc '
		R=$1 top=$2 build=$3 dir=$4
		shift 4
		mount --bind /dev "$R/dev"
		mount -t proc proc "$R/proc"
		mkdir -p "$R$top" "$R$build"
		mount --bind "$top" "$R$top"
		mount -o remount,bind,ro "$R$top"
		mount --bind "$build" "$R$build"
		exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 MAKEFLAGS="${MAKEFLAGS:-}" \
			/bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$dir" "$@"
	' buildroot "$R" "$TOP" "$(readlink -f "$BUILD")" "$dir" "$@"
}

# One preparation at a time (parallel makes).
if [ -z "$D" ]; then
	run "$@"
	exit
fi
mkdir -p "$BUILD/buildroot"
exec 9>"$D.lock"
case "$cmd" in
prepare)
	flock 9
	prepare ;;
run)
	flock 9
	prepare
	flock -u 9
	run "$@" ;;
*) die "unknown command '$cmd' (prepare or run)" ;;
esac
