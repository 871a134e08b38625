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
# KVER picks the kernel:
#   (unset)             the 6.1 ABI linux-image-amd64 depends on (the machine's
#                       apt sources), pinned in build/kernel/current once known
#   6.1.<n>-amd64       that 6.1 ABI, from the machine's apt sources
#   backports           the newest $BPO_SERIES ABI of $BPO_SUITE, resolved from
#                       its package lists each time they are refreshed
#   $BPO_SERIES.<n>+deb12-amd64  that ABI, from $BPO_SUITE
#   trixie              the newest $TRIXIE_SERIES ABI of Debian 13 ($TRIXIE_SUITES),
#                       resolved the same way
#   $TRIXIE_SERIES.<n>+deb13<x>-amd64  that ABI, from $TRIXIE_SUITES
# Suites other than the machine's are read through a private apt
# configuration under build/apt/<name>/ (its own sources, lists and cache):
# the machine's /etc/apt is not changed.
# Trixie's kernel is built with gcc-14, which Debian 12 lacks: its modules are
# built in a trixie build root (scripts/buildroot.sh), not here.
# Only a 6.1 ABI is recorded in build/kernel/current, so preparing another
# kernel never changes what a plain "make" builds for.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$TOP/build}

die() { echo "kernel: $*" >&2; exit 1; }
warn() { echo "kernel: $*" >&2; }

BPO_SUITE=${BPO_SUITE:-bookworm-backports}
BPO_SERIES=${BPO_SERIES:-6.12}
TRIXIE_SUITES=${TRIXIE_SUITES:-trixie trixie-security}
TRIXIE_SERIES=${TRIXIE_SERIES:-6.12}
SUITE_MAX_AGE=${SUITE_MAX_AGE:-${BPO_MAX_AGE:-360}}	# minutes before a private configuration's package lists are refreshed

# apt with the machine's configuration, or with a private one once use_suites
# has set APT_CONF. The private one keeps a binary package cache of its own
# (build/apt/<name>/cache/pkgcache.bin), even where the machine's apt.conf.d
# turns caches off (docker-clean): without it every apt-cache call parses
# the lists again, seconds each.
APT_CONF=
apt_() {
	if [ -n "$APT_CONF" ]; then
		APT_CONFIG=$APT_CONF "$1" -o Dir::Cache::pkgcache=pkgcache.bin "${@:2}"
	else
		"$@"
	fi
}

# The mirror of a suite: the machine's Debian source of the same kind (the
# security archive for *-security, the main archive otherwise), or
# deb.debian.org. $SUITE_MIRROR / $SUITE_SECURITY_MIRROR override them
# ($BPO_MIRROR is the former's older name).
suite_mirror() {	# suite
	local m
	case "$1" in
	*-security)
		m=${SUITE_SECURITY_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' \
			'Label: Debian-Security' 2>/dev/null | head -1)}
		m=${m:-http://deb.debian.org/debian-security} ;;
	*)
		m=${SUITE_MIRROR:-${BPO_MIRROR:-$(apt-get indextargets --format '$(REPO_URI)' \
			'Origin: Debian' 'Label: Debian' 2>/dev/null | head -1)}}
		m=${m:-http://deb.debian.org/debian} ;;
	esac
	echo "${m%/}"
}

# A private apt configuration named NAME under build/apt/NAME/ reading the
# given suites (main, amd64), with the archive keyring and lists, cache and
# preferences of its own. The apt.conf.d snippets of the machine (proxies and
# the like) still apply.
use_suites() {	# name suite...
	local name=$1 dir=$BUILD/apt/$1 s conf
	shift
	conf=$dir/apt.conf
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" \
		"$dir/sources.list.d" "$dir/preferences.d"
	for s in "$@"; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(suite_mirror "$s") $s main"
	done > "$dir/sources.list.new"
	cat > "$dir/apt.conf.new" <<-EOF
	Dir::Etc::SourceList "$dir/sources.list";
	Dir::Etc::SourceParts "$dir/sources.list.d";
	Dir::Etc::Preferences "$dir/preferences";
	Dir::Etc::PreferencesParts "$dir/preferences.d";
	Dir::State::Lists "$dir/lists";
	Dir::State::extended_states "$dir/extended_states";
	Dir::Cache "$dir/cache";
	APT::Sandbox::User "root";
	EOF
	# A changed source or configuration makes the lists stale.
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" ||
	   ! cmp -s "$dir/apt.conf.new" "$conf"; then
		rm -f "$dir/updated"
	fi
	mv "$dir/sources.list.new" "$dir/sources.list"
	mv "$dir/apt.conf.new" "$conf"
	APT_CONF=$conf
	if [ -z "$(find "$dir/updated" -mmin -"$SUITE_MAX_AGE" 2>/dev/null)" ]; then
		echo "kernel: updating the package lists of $*" >&2
		if apt_ apt-get update -q >"$dir/update.log" 2>&1 &&
		   ! grep -q '^[WE]:' "$dir/update.log"; then
			touch "$dir/updated"
		elif [ -f "$dir/updated" ]; then
			warn "apt-get update for $* failed; using the lists of $(date -r "$dir/updated")"
			grep '^[WE]:' "$dir/update.log" >&2 || true
		else
			tail -5 "$dir/update.log" >&2
			die "cannot read the package lists of $*"
		fi
	fi
}
use_backports() { use_suites "$BPO_SUITE" "$BPO_SUITE"; }
use_trixie() { use_suites trixie $TRIXIE_SUITES; }

# The newest amd64 ABI of a series whose headers are in the suites of the
# private configuration in use (the archive keeps images of older ABIs, but
# headers of the newest only).
resolve_series_kver() {	# series
	local series=$1 p abi v best= bestv= re names=()
	re="^${series//./\\.}\\.[0-9]+\\+[a-z0-9.~]+-amd64\$"
	for p in $(apt_ apt-cache pkgnames "linux-headers-$series." 2>/dev/null); do
		abi=${p#linux-headers-}
		[[ $abi =~ $re ]] && names+=("$p")
	done
	[ ${#names[@]} -gt 0 ] || die "no linux-headers-$series.*-amd64 in $(awk '{ printf "%s ", $4 }' "$(dirname "$APT_CONF")/sources.list")"
	# One apt-cache call for all of them: package and candidate version.
	while read -r p v; do
		[ -n "$v" ] || continue
		if [ -z "$bestv" ] || dpkg --compare-versions "$v" gt "$bestv"; then
			best=${p#linux-headers-} bestv=$v
		fi
	done < <(apt_ apt-cache show --no-all-versions "${names[@]}" 2>/dev/null |
		 awk '/^Package:/ { p = $2 } /^Version:/ { print p, $2 }')
	[ -n "$best" ] || die "no linux-headers-$series.*-amd64 in $(awk '{ printf "%s ", $4 }' "$(dirname "$APT_CONF")/sources.list")"
	echo "$best"
}

resolve_kver() {
	local dep
	dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$dep" ] || die "cannot resolve the ABI of linux-image-amd64 (run apt-get update?)"
	echo "${dep#linux-image-}"
}

# One kernel.sh at a time per build directory: the targets of a parallel
# make each call it, and two of them must not refresh the same package lists
# or unpack the same kernel at once.
mkdir -p "$BUILD/kernel"
exec 9>"$BUILD/kernel/.lock"
flock 9

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
	backports)
		use_backports
		KVER=$(resolve_series_kver "$BPO_SERIES") ;;
	trixie)
		use_trixie
		KVER=$(resolve_series_kver "$TRIXIE_SERIES") ;;
	"$TRIXIE_SERIES".*+deb13*-amd64) ;;
	"$BPO_SERIES".*-amd64) ;;
	*) die "KVER '$KVER' is neither a Debian 6.1 amd64 ABI (e.g. 6.1.0-56-amd64), nor a $BPO_SERIES amd64 ABI of $BPO_SUITE, nor a $TRIXIE_SERIES amd64 ABI of trixie (+deb13), nor 'backports' or 'trixie'" ;;
esac

# Only the default line is pinned as the one a plain "make" builds for.
record_current() {
	case "$KVER" in
		6.1.*-amd64) echo "$KVER" > "$BUILD/kernel/current" ;;
	esac
}

# Trixie's kernel is built with gcc-14, and its kbuild tools need trixie's
# glibc: its modules are built in a trixie build root (scripts/buildroot.sh),
# named in $K/buildroot for vhost_vsock_shm/Makefile.
KROOT=
case "$KVER" in
	*+deb13*-amd64) KROOT=trixie ;;
esac

K=$BUILD/kernel/$KVER
STAMP=$K/.ready
if [ -f "$STAMP" ]; then
	record_current
	echo "KVER=$KVER"
	echo "KDIR=$K"
	exit 0
fi

mkdir -p "$K/debs" "$K/root" "$K/src"
case "$KVER" in
	"$TRIXIE_SERIES".*+deb13*-amd64) [ -n "$APT_CONF" ] || use_trixie ;;
	"$BPO_SERIES".*-amd64) [ -n "$APT_CONF" ] || use_backports ;;
esac

ver=$(apt_ apt-cache show "linux-image-$KVER" 2>/dev/null |
      awk '/^Version:/ { print $2; exit }')
[ -n "$ver" ] || die "package linux-image-$KVER is not in the apt sources"
# The common headers and the kbuild package are named by the headers'
# dependencies; linux-source by the upstream series of the same version.
hdeps=$(apt_ apt-cache show "linux-headers-$KVER=$ver" 2>/dev/null |
	awk '/^Depends:/ { sub(/^Depends: */, ""); print; exit }' |
	tr ',|' '\n\n' | awk '{ print $1 }')
[ -n "$hdeps" ] || die "package linux-headers-$KVER=$ver is not in the apt sources"
common=$(grep -E '^linux-headers-.*-common$' <<<"$hdeps" || true)
kbuild=$(grep -E '^linux-kbuild-' <<<"$hdeps" || true)
[ "$(wc -w <<<"$common")" = 1 ] && [ "$(wc -w <<<"$kbuild")" = 1 ] ||
	die "linux-headers-$KVER: cannot tell its -common and linux-kbuild packages from: $(echo $hdeps)"
abi_common=${common#linux-headers-}
series=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$ver")
# The compiler marker package the 6.1 headers depend on (linux-compiler-*,
# of the same source), for installing them (selftests/install).
compiler=$(grep -E '^linux-compiler-' <<<"$hdeps" || true)
pkgs=("linux-image-$KVER=$ver" "linux-headers-$KVER=$ver"
      "$common=$ver" "$kbuild=$ver"
      "linux-source-$series=$ver" ${compiler:+"$compiler=$ver"})

# 1. Download (cached).
for p in "${pkgs[@]}"; do
	name=${p%%=*}
	if ! ls "$K/debs/${name}_"*.deb >/dev/null 2>&1; then
		echo "kernel: downloading $p"
		(cd "$K/debs" && apt_ apt-get download -q "$p" 2>&1 |
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
# Trixie's packages install modules under /usr/lib/modules: the tree gets
# the /lib of a merged /usr, so root/lib/modules/<abi> holds for every kernel.
if [ -d "$K/root/usr/lib/modules" ] && [ ! -e "$K/root/lib" ]; then
	ln -s usr/lib "$K/root/lib"
fi
[ -d "$K/root/lib/modules/$KVER" ] || die "no modules of $KVER after unpacking"
HDR=$K/root/usr/src/linux-headers-$KVER
[ -f "$HDR/Makefile" ] || die "headers for $KVER missing after unpacking"
# The kbuild tree the headers' scripts link points into.
KB=$(dirname "$(readlink -f "$HDR/scripts")")
[ -d "$KB/scripts" ] || die "the kbuild tree of $KVER is missing after unpacking ($KB)"
# The headers' Makefile includes the common tree by absolute path.
sed -i "s|/usr/src/linux-headers-$abi_common|$K/root/usr/src/linux-headers-$abi_common|" \
	"$HDR/Makefile"
ln -sfn "$HDR" "$K/headers"

# 3. The parts of linux-source used: the vhost driver (forked), the vsock
#    peer suite, kselftest headers, resolve_btfids and checkpatch.
echo "kernel: extracting linux-source"
rm -rf "$K/src" && mkdir -p "$K/src"
S=linux-source-$series
tarball=$(ls "$K/root/usr/src/$S.tar."* 2>/dev/null | head -1)
[ -n "$tarball" ] || die "no $S tarball in the $S package"
tar -xf "$tarball" -C "$K/src" \
	--strip-components=1 \
	$S/drivers/vhost \
	$S/tools \
	$S/scripts \
	$S/include \
	$S/arch/x86/include \
	$S/Makefile || die "$S extraction failed"
[ -f "$K/src/drivers/vhost/vsock.c" ] || die "drivers/vhost/vsock.c not in linux-source"

# 4. resolve_btfids: the 6.1 kbuild package lacks it, later ones ship it.
#    Trixie's runs in its build root only (it needs glibc 2.38).
RBTF=$KB/tools/bpf/resolve_btfids/resolve_btfids
if [ -n "$KROOT" ] && [ -x "$RBTF" ]; then
	echo "kernel: using the resolve_btfids of ${KB##*/} (in the $KROOT build root)"
elif [ -x "$RBTF" ] && [[ $("$RBTF" --help 2>&1 || true) == *Usage* ]]; then
	echo "kernel: using the resolve_btfids of ${KB##*/}"
else
	echo "kernel: building resolve_btfids"
	mkdir -p "$K/rbtf"
	make -s -C "$K/src/tools/bpf/resolve_btfids" O="$K/rbtf" >"$K/rbtf.log" 2>&1 ||
		{ tail -20 "$K/rbtf.log" >&2; die "resolve_btfids build failed"; }
	mkdir -p "$KB/tools/bpf/resolve_btfids"
	cp "$K/rbtf/resolve_btfids" "$KB/tools/bpf/resolve_btfids/"
fi

# 5. vmlinux with BTF, out of vmlinuz (has_btf, extract_vmlinux, btf_of:
#    shared with the DKMS build of a host).
# shellcheck source=../vhost_vsock_shm/dkms/btf.sh
. "$TOP/vhost_vsock_shm/dkms/btf.sh"
VMLINUZ=$K/root/boot/vmlinuz-$KVER
if [ -f "$HDR/vmlinux" ] && has_btf "$HDR/vmlinux"; then
	# The headers ship the BTF of the image (a BTF-only ELF): module BTF
	# and vmlinux.h are made from it. It must be the BTF of vmlinuz.
	echo "kernel: using the vmlinux (BTF) shipped with the headers"
	if extract_vmlinux "$VMLINUZ" "$K/vmlinux"; then
		[ "$(btf_of "$K/vmlinux")" = "$(btf_of "$HDR/vmlinux")" ] ||
			die "the .BTF of vmlinuz-$KVER differs from that of the headers' vmlinux"
	else
		warn "no ELF with .BTF found in $VMLINUZ; only the headers' vmlinux is at hand"
	fi
	BTF_VMLINUX=$HDR/vmlinux
else
	extract_vmlinux "$VMLINUZ" "$K/vmlinux" ||
		die "no compressed ELF with .BTF found in $VMLINUZ"
	cp "$K/vmlinux" "$HDR/vmlinux"
	BTF_VMLINUX=$K/vmlinux
fi
bpftool btf dump file "$BTF_VMLINUX" format c > "$K/vmlinux.h" ||
	die "bpftool could not read the BTF of vmlinux"

# 6. Module index for the lab (modprobe -d root).
depmod -b "$K/root" "$KVER"

if [ -n "$KROOT" ]; then echo "$KROOT" > "$K/buildroot"; else rm -f "$K/buildroot"; fi
touch "$STAMP"
record_current
echo "KVER=$KVER"
echo "KDIR=$K"
