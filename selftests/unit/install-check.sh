#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The public libraries as others get them (docs/libraries.md), TAP on
# stdout, exit 1 if any check fails:
#  - each public header compiles alone, as C99 and C89 -pedantic and as
#    C++ (-pedantic, C++98 and the default), also after the UAPI header,
#    and names nothing internal;
#  - each shared library exports, with its version node, exactly the
#    functions its public headers declare (gcc -aux-info lists them), and
#    its static archive defines exactly those;
#  - the values protocol.h restates are the list test_protocol.c compares;
#  - make install into a temporary DESTDIR puts the expected files (sonames,
#    links, pkg-config files, programs, man pages); the examples build from
#    there with pkg-config alone, shared and static, and link
#    libvsock-shm-*.so.0 from the stage; a C++ program and a program using
#    both static libraries link too;
#  - uninstall, and each uninstall-<part> after its install-<part>, leaves
#    no file behind;
#  - vsock-shmctl's bash completion offers the tool's objects, commands,
#    tunable keys and shipped policies.
#
#   install-check.sh [BUILD_DIR]    (default ../../build)

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:-$TOP/build}" 2>/dev/null && pwd) || {
	echo "install-check: no build directory ${1:-}" >&2
	exit 1
}
INC=$TOP/userspace/include
CC=${CC:-cc}
CXX=${CXX:-c++}
MAKE=${MAKE:-make}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0 failed=0

# check NAME CMD...: one TAP line; the command's output as diagnostics.
check() {
	local name=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok - install::$name"
	else
		failed=$((failed + 1))
		echo "not ok - install::$name"
		printf '%s\n' "$out" | head -40 | sed 's/^/      /'
	fi
}

# Lists (one per line, sorted) compared both ways.
same() {	# same WHAT EXPECTED GOT
	if [ "$2" != "$3" ]; then
		echo "$1 differ (< expected, > got):"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3")
		return 1
	fi
}

HEADERS=$(cd "$INC" && ls vsock-shm/*.h)

# --- the headers --------------------------------------------------------

header_c() {	# header std
	printf '#include <%s>\nint main(void) { return 0; }\n' "$1" > "$T/h.c"
	"$CC" -std="$2" -Wall -Wextra -Werror -pedantic -I"$INC" \
		-fsyntax-only "$T/h.c"
}
header_cxx() {
	printf '#include <%s>\nint main() { return 0; }\n' "$1" > "$T/h.cc"
	"$CXX" ${2:+-std=$2} -Wall -Wextra -Werror -pedantic -I"$INC" \
		-fsyntax-only "$T/h.cc"
}
# What the project's private code does: the UAPI header first.
header_after_uapi() {
	printf '#include "vsock_shm.h"\n#include <%s>\n' "$1" > "$T/u.c"
	"$CC" -std=c99 -Wall -Wextra -Werror -pedantic -I"$INC" \
		-I"$TOP/vhost_vsock_shm/uapi" -fsyntax-only "$T/u.c"
}
# No source-tree include, kernel type or test hook.
header_clean() {
	! grep -nE '__u(8|16|32|64)|__le|\<u(8|16|32|64)\>|#include +"(wire|proto|session|extent|pagemap|privport|vsock_shm)\.h"|_raw\>|from_fd|new_on_fd|vshm_session_(new|feed|end|find|free|stats|drop_all|cfg|out)\>|vshm_mapper_ops|map_errno' "$INC/$1"
}

for h in $HEADERS; do
	check "header_c99:$h" header_c "$h" c99
	check "header_c89:$h" header_c "$h" c89
	check "header_cxx98:$h" header_cxx "$h" c++98
	check "header_cxx:$h" header_cxx "$h" ""
	check "header_after_uapi:$h" header_after_uapi "$h"
	check "header_clean:$h" header_clean "$h"
done

# --- the exported symbols -----------------------------------------------

# Functions declared by the given public headers, sorted.
declared() {
	local h
	for h in "$@"; do
		echo "#include <vsock-shm/$h>"
	done > "$T/d.c"
	"$CC" -I"$INC" -fsyntax-only -aux-info "$T/d.aux" "$T/d.c" &&
		grep -E '^/\* [^ ]*vsock-shm/' "$T/d.aux" |
		sed -E 's/ \(.*//; s/.*[ *]//' | sort -u
}

# lib NODE: the .so exports exactly what its headers declare, all in NODE
# or in a later node of the same soname (NODE.<minor>).
exports_ok() {
	local lib=$1 node=$2 so want got
	shift 2
	so=$BUILD/userspace/libvsock-shm-$lib.so.0
	want=$(declared "$@") || return 1
	[ -n "$want" ] || { echo "no function declared?"; return 1; }
	got=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TWi]$/ { print $3 }' |
		sed 's/@.*//' | sort -u)
	same "exported functions of $(basename "$so")" "$want" "$got" || return 1
	got=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TWi]$/ { print $3 }' |
		grep -Ev "@@$node(\.[0-9]+)?\$") && {
		echo "not in version node $node:"; echo "$got"; return 1; }
	# Nothing else at all: no data, no other version node.
	got=$(nm -D --defined-only "$so" | awk '$2 !~ /^[TWi]$/' |
		grep -Ev " $node(\.[0-9]+)?\$")
	[ -z "$got" ] || { echo "other exported symbols:"; echo "$got"; return 1; }
	readelf -d "$so" | grep -q "SONAME.*\[libvsock-shm-$lib.so.0\]" ||
		{ echo "soname is not libvsock-shm-$lib.so.0"; return 1; }
}

# The static archive defines exactly the same global symbols.
static_ok() {
	local lib=$1 want got
	shift
	want=$(declared "$@") || return 1
	got=$(nm --defined-only "$BUILD/userspace/libvsock-shm-$lib.a" |
		awk 'NF == 3 && $2 ~ /^[A-Z]$/ { print $3 }' | sort -u)
	same "global symbols of libvsock-shm-$lib.a" "$want" "$got"
}

check exports:guest exports_ok guest VSOCK_SHM_GUEST_0 guest.h guestd.h chan.h protocol.h
check exports:server exports_ok server VSOCK_SHM_SERVER_0 server.h chan.h protocol.h
check static_symbols:guest static_ok guest guest.h guestd.h chan.h protocol.h
check static_symbols:server static_ok server server.h chan.h protocol.h

# protocol.h's restated section names exactly the values of the list.
consts_ok() {
	local want got
	want=$(sed -n '/^#ifndef _UAPI_VSOCK_SHM_H/,/^#endif \/\* !_UAPI_VSOCK_SHM_H/p' \
			"$INC/vsock-shm/protocol.h" |
		sed -nE 's/^#define (VSHM_[A-Z0-9_]+).*/\1/p; s/^[[:space:]]+(VSHM_[A-Z0-9_]+)[[:space:]]*=.*/\1/p' |
		sort -u)
	got=$(grep -oE 'X\((VSHM_[A-Z0-9_]+)' "$HERE/protocol_consts.h" |
		sed 's/X(//' | sort -u)
	same "restated values (protocol.h vs protocol_consts.h)" "$want" "$got"
}
check protocol_consts_list consts_ok

# --- install, build against it, uninstall --------------------------------

D=$T/stage
LIBDIR=/usr/lib/x86_64-linux-gnu
inst() {	# inst TARGET... (into $D, the packager's layout)
	"$MAKE" -s -C "$TOP/userspace" O="$BUILD" DESTDIR="$D" PREFIX=/usr \
		LIBDIR=$LIBDIR "$@"
}
files() { (cd "$D" 2>/dev/null && find . \( -type f -o -type l \) | sort); }

EXPECTED="./usr/bin/vshm-guest
./usr/bin/vshm-server
./usr/bin/vsock_echo
./usr/include/vsock-shm/chan.h
./usr/include/vsock-shm/guest.h
./usr/include/vsock-shm/guestd.h
./usr/include/vsock-shm/protocol.h
./usr/include/vsock-shm/server.h
.$LIBDIR/libvsock-shm-guest.a
.$LIBDIR/libvsock-shm-guest.so
.$LIBDIR/libvsock-shm-guest.so.0
.$LIBDIR/libvsock-shm-guest.so.0.2.0
.$LIBDIR/libvsock-shm-server.a
.$LIBDIR/libvsock-shm-server.so
.$LIBDIR/libvsock-shm-server.so.0
.$LIBDIR/libvsock-shm-server.so.0.2.0
.$LIBDIR/pkgconfig/vsock-shm-guest.pc
.$LIBDIR/pkgconfig/vsock-shm-server.pc
./usr/sbin/vshm-guestd
./usr/share/man/man1/vshm-guest.1
./usr/share/man/man1/vshm-server.1
./usr/share/man/man1/vsock_echo.1
./usr/share/man/man3/libvsock-shm-guest.3
./usr/share/man/man3/libvsock-shm-server.3
./usr/share/man/man8/vshm-guestd.8"

install_ok() {
	inst install || return 1
	same "installed files" "$EXPECTED" "$(files)" || return 1
	local l
	for l in guest server; do
		[ "$(readlink "$D$LIBDIR/libvsock-shm-$l.so.0")" = "libvsock-shm-$l.so.0.2.0" ] &&
		[ "$(readlink "$D$LIBDIR/libvsock-shm-$l.so")" = "libvsock-shm-$l.so.0" ] ||
			{ echo "bad links of libvsock-shm-$l"; return 1; }
	done
	# The installed server links the shared library, without RUNPATH.
	readelf -d "$D/usr/bin/vshm-server" | grep -q 'NEEDED.*\[libvsock-shm-server.so.0\]' ||
		{ echo "vshm-server does not link libvsock-shm-server.so.0"; return 1; }
	! readelf -d "$D/usr/bin/vshm-server" | grep -E 'RPATH|RUNPATH' || return 1
	# Guest programs are static.
	for l in vshm-guest vsock_echo; do
		! readelf -d "$D/usr/bin/$l" 2>/dev/null | grep -q NEEDED ||
			{ echo "$l is not static"; return 1; }
	done
}
check install install_ok

export PKG_CONFIG_PATH=$D$LIBDIR/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D
unset PKG_CONFIG_LIBDIR

pc_ok() {
	local l
	for l in guest server; do
		[ "$(pkg-config --modversion vsock-shm-$l)" = 0.2.0 ] || return 1
		pkg-config --cflags vsock-shm-$l | grep -q -- "-I$D/usr/include" ||
			{ pkg-config --cflags vsock-shm-$l; return 1; }
		pkg-config --libs vsock-shm-$l | grep -q -- "-L$D$LIBDIR .*-lvsock-shm-$l" ||
			{ pkg-config --libs vsock-shm-$l; return 1; }
	done
	pkg-config --static --libs vsock-shm-server | grep -q -- -lpthread
}
check pkg_config pc_ok

# example_ok DIR PROG LIB [STATIC]: builds PROG of examples/DIR from the
# stage (only that program: "make host" or "make guest" in the directories
# of two).
example_ok() {
	local dir=$1 name=$2 lib=$3 static=${4:-} o=$T/ex-$1${4:+-static} bin goal=
	bin=$o/$name
	if [ "$dir" != "$name" ]; then
		goal=guest
		[ "$lib" = server ] && goal=host
	fi
	"$MAKE" -s -C "$TOP/examples/$dir" O="$o" ${static:+STATIC=1} $goal || return 1
	if [ -n "$static" ]; then
		! readelf -d "$bin" | grep -q NEEDED || { echo "not static"; return 1; }
		# Bad arguments: exit status 2.
		"$bin" --no-such-option >/dev/null 2>&1
		[ $? = 2 ] || { echo "$name: bad arguments did not exit 2"; return 1; }
		return 0
	fi
	readelf -d "$bin" | grep -q "NEEDED.*\[libvsock-shm-$lib.so.0\]" ||
		{ readelf -d "$bin"; return 1; }
	# Only its own library.
	! readelf -d "$bin" | grep -q "NEEDED.*\[libvsock-shm-$([ "$lib" = server ] && echo guest || echo server)" ||
		{ echo "$name links the other library"; return 1; }
	LD_LIBRARY_PATH=$D$LIBDIR ldd "$bin" |
		grep -q "libvsock-shm-$lib.so.0 => $D$LIBDIR/libvsock-shm-$lib.so.0" ||
		{ LD_LIBRARY_PATH=$D$LIBDIR ldd "$bin"; return 1; }
	LD_LIBRARY_PATH=$D$LIBDIR "$bin" --help >/dev/null
}
for ex in "server-map server-map server" "guest-share guest-share guest" \
	"frames frame-consumer server" "frames frame-producer guest" \
	"buffer-service buffer-service server" "buffer-service buffer-client guest"; do
	read -r exdir exprog exlib <<<"$ex"
	check "example:$exprog" example_ok "$exdir" "$exprog" "$exlib"
	check "example:$exprog-static" example_ok "$exdir" "$exprog" "$exlib" static
done

# The installed vshm-server runs against the staged library (bad
# arguments: exit status 2).
server_runs() {
	LD_LIBRARY_PATH=$D$LIBDIR "$D/usr/bin/vshm-server" >/dev/null 2>&1
	[ $? = 2 ]
}
check installed_vshm_server_runs server_runs

# C++ links the C functions (extern "C"), shared.
cxx_ok() {
	cat > "$T/p.cc" <<-'EOF'
	#include <vsock-shm/guest.h>
	#include <vsock-shm/server.h>
	#include <cstdio>
	int main(int argc, char **)
	{
		struct vshm_server_cfg cfg = vshm_server_cfg();
		if (argc > 1) {
			vshm_server_free(vshm_server_new(&cfg));
			vshm_guest_close(vshm_guest_connect(2, 1));
		}
		std::printf("%s %s\n", vshm_err_name(VSHM_E_BUSY),
			    vshm_end_reason_name(VSHM_END_FREED));
		return 0;
	}
	EOF
	"$CXX" -Wall -Wextra -Werror -o "$T/p" "$T/p.cc" \
		$(pkg-config --cflags --libs vsock-shm-guest vsock-shm-server) &&
		[ "$(LD_LIBRARY_PATH=$D$LIBDIR "$T/p")" = "VSHM_E_BUSY freed" ]
}
check cxx_links_both cxx_ok

# Both static archives in one program (vshm_err_name is in both).
both_static_ok() {
	cat > "$T/b.c" <<-'EOF'
	#include <stdio.h>
	#include <vsock-shm/guest.h>
	#include <vsock-shm/server.h>
	int main(int argc, char **argv)
	{
		struct vshm_server_cfg cfg = { .port = 0 };
		(void)argv;
		if (argc > 1) {
			vshm_server_free(vshm_server_new(&cfg));
			vshm_guest_close(vshm_guest_connect(2, 1));
		}
		printf("%s\n", vshm_err_name(VSHM_E_PORT));
		return 0;
	}
	EOF
	"$CC" -std=c99 -Wall -Wextra -Werror -static -o "$T/b" "$T/b.c" \
		$(pkg-config --static --cflags --libs vsock-shm-guest vsock-shm-server) &&
		[ "$("$T/b")" = VSHM_E_PORT ]
}
check both_static_archives_link both_static_ok

uninstall_ok() {
	inst uninstall || return 1
	same "files left after uninstall" "" "$(files)"
}
check uninstall uninstall_ok

# Each part alone: uninstall-<part> removes what install-<part> put.
part_ok() {
	inst "install-$1" || return 1
	[ -n "$(files)" ] || { echo "install-$1 installed nothing"; return 1; }
	inst "uninstall-$1" || return 1
	same "files left after uninstall-$1" "" "$(files)"
}
for p in guest-lib server-lib libs dev server host guest; do
	check "part:$p" part_ok "$p"
done

# The defaults: PREFIX=/usr/local, LIBDIR=$(PREFIX)/lib, ...
defaults_ok() {
	"$MAKE" -s -C "$TOP/userspace" O="$BUILD" DESTDIR="$D" install || return 1
	[ -f "$D/usr/local/lib/libvsock-shm-server.so.0.2.0" ] &&
	[ -f "$D/usr/local/lib/pkgconfig/vsock-shm-guest.pc" ] &&
	[ -f "$D/usr/local/include/vsock-shm/server.h" ] &&
	[ -f "$D/usr/local/bin/vshm-server" ] &&
	[ -f "$D/usr/local/share/man/man1/vshm-guest.1" ] ||
		{ files; return 1; }
	grep -qx 'prefix=/usr/local' "$D/usr/local/lib/pkgconfig/vsock-shm-guest.pc" || return 1
	"$MAKE" -s -C "$TOP/userspace" O="$BUILD" DESTDIR="$D" uninstall || return 1
	same "files left after uninstall" "" "$(files)"
}
check defaults defaults_ok

# --- vsock-shmctl's bash completion ------------------------------------

# It offers what the tool takes: keys of tunables.c, shipped policies of
# shipped.c (its list when the tool is not there to say), the commands of
# policy.c. vsock-shmctl itself is hidden (a function that fails).
completion_ok() {
	local ctl=$TOP/userspace/ctl want
	mkdir -p "$T/empty"	# FILE completes nothing there
	want=$(sed -nE 's/^\t\[SET_[A-Z_]+\] = \{ "([a-z-]+)".*/\1/p' "$ctl/tunables.c" | sort)
	want="$want
$(sed -nE 's/^SHIPPED\(([a-z]+),.*/\1/p' "$ctl/shipped.c" | sort)"
	bash -c '
		set -u
		vsock-shmctl() { return 1; }
		source "$1"
		t() {
			COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
			_vsock_shmctl; printf "%s\n" "${COMPREPLY[@]}" | sort
		}
		cd "$2"
		got=$(t vsock-shmctl policy set ""; t vsock-shmctl policy load "")
		want="$3
help
help"
		[ "$(sort <<<"$got")" = "$(sort <<<"$want")" ] ||
			{ echo "keys and policies: got"; echo "$got"; exit 1; }
		[ "$(t vsock-shmctl -j "")" = "$(printf "grants\nhelp\npolicy\nstats")" ] &&
		[ "$(t vsock-shmctl policy "")" = "$(printf "help\nload\nset\nshow\nswap\nunload")" ] &&
		[ "$(t vsock-shmctl -p policy set unprivileged-ports "")" = "$(printf "off\non")" ] &&
		[ "$(t vsock-shmctl policy swap restrict --f)" = "--fresh" ] ||
			{ echo "objects, commands or values differ"; exit 1; }
	' sh "$ctl/vsock-shmctl.bash-completion" "$T/empty" "$want"
}
check ctl_bash_completion completion_ok

echo "# install-check: $((n - failed)) of $n passed"
[ "$failed" = 0 ]
