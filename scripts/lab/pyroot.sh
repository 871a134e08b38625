#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Python overlay of the lab's L2 guests: an initramfs archive that
# scripts/lab/l2 --python appends to the guest's busybox one. It holds this
# machine's Debian python3.11 (/usr/bin/python3.11, also as python3), the
# shared libraries it and the stdlib extension modules need (found with
# ldd, the dynamic loader included) in /lib/x86_64-linux-gnu, the standard
# library without what a test guest never uses (test/, idlelib, tkinter,
# ensurepip, lib2to3, pydoc_data, the build config, extension modules that
# need large libraries: _ssl, _hashlib (hashlib has built-in digests),
# _sqlite3, _dbm, nis, and CPython's own test modules), the bytecode only of
# the modules the bindings and the lab's programs import (the rest compiles
# on import), the project's package python/vsock_shm in
# /usr/lib/python3/dist-packages, and the project's libraries
# libvsock-shm-guest.so.0 and libvsock-shm-server.so.0 (from
# build/userspace) where the loader finds them.
#   scripts/lab/pyroot.sh OUT.cpio.gz
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
OUT=${1:?usage: pyroot.sh OUT.cpio.gz}
PY=/usr/bin/python3.11
STDLIB=/usr/lib/python3.11
LIBDIR=lib/x86_64-linux-gnu

[ -x $PY ] || { echo "pyroot: $PY missing (Debian's python3.11)" >&2; exit 1; }
for so in libvsock-shm-guest.so.0 libvsock-shm-server.so.0; do
	[ -e "$BUILD/userspace/$so" ] ||
		{ echo "pyroot: $BUILD/userspace/$so missing: make userspace" >&2; exit 1; }
done

T=$(mktemp -d /tmp/pyroot.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/usr/bin" "$T/$LIBDIR" "$T/lib64" "$T/usr/lib/python3/dist-packages"
cp -a $PY "$T/usr/bin/python3.11"
ln -s python3.11 "$T/usr/bin/python3"

# The standard library: sources, and extension modules but those left out.
SKIP_DYNLOAD='^(_ssl|_hashlib|_sqlite3|_dbm|nis|ossaudiodev|_test.*|_xxtestfuzz|_xxsubinterpreters|xxlimited.*|_ctypes_test)\.'
(cd /usr/lib && tar -c --exclude=__pycache__ \
	--exclude=python3.11/test --exclude=python3.11/idlelib \
	--exclude=python3.11/tkinter --exclude=python3.11/turtledemo \
	--exclude=python3.11/ensurepip --exclude=python3.11/lib2to3 \
	--exclude=python3.11/pydoc_data --exclude='python3.11/config-3.11-*' \
	--exclude=python3.11/site-packages --exclude=python3.11/dist-packages \
	--exclude=python3.11/lib-dynload python3.11) | tar -x -C "$T/usr/lib"
mkdir "$T$STDLIB/lib-dynload"
for so in "$STDLIB"/lib-dynload/*.so; do
	basename "$so" | grep -Eq "$SKIP_DYNLOAD" && continue
	cp -a "$so" "$T$STDLIB/lib-dynload/"
done

# The package, and the project's libraries.
mkdir "$T/usr/lib/python3/dist-packages/vsock_shm"
cp "$TOP"/python/vsock_shm/*.py "$TOP/python/vsock_shm/py.typed" \
	"$T/usr/lib/python3/dist-packages/vsock_shm/"
for so in libvsock-shm-guest.so.0 libvsock-shm-server.so.0; do
	real=$(readlink -f "$BUILD/userspace/$so")
	cp "$real" "$T/$LIBDIR/"
	ln -s "$(basename "$real")" "$T/$LIBDIR/$so"
done

# Bytecode of what the bindings and the lab's programs import, as Debian
# compiled it (its timestamps match the sources copied with cp -a/tar).
PYTHONPATH=$TOP/python $PY -B -c '
import sys, argparse, ctypes, dataclasses, enum, errno, mmap, os, pathlib, selectors, signal, socket, struct, subprocess, tempfile, time, traceback, typing, unittest, unittest.mock
import vsock_shm, vsock_shm.guest
for m in list(sys.modules.values()):
    c = getattr(m, "__cached__", None)
    if c and c.startswith("/usr/lib/python3.11/"):
        print(c)
' | while read -r c; do
	[ -f "$c" ] || continue
	mkdir -p "$T$(dirname "$c")"
	cp -a "$c" "$T$c"
done

# Shared libraries of the interpreter, its extension modules and the
# project's libraries, and the loader (the lab's guests have no libc).
{
	for f in "$T/usr/bin/python3.11" "$T$STDLIB"/lib-dynload/*.so \
		"$T/$LIBDIR"/libvsock-shm-*.so.0; do
		ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
	done
} | sort -u | while read -r lib; do
	real=$(readlink -f "$lib")
	cp "$real" "$T/$LIBDIR/$(basename "$lib")"
done
[ -f "$T/$LIBDIR/ld-linux-x86-64.so.2" ] ||
	cp "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$T/$LIBDIR/ld-linux-x86-64.so.2"
ln -sf ../$LIBDIR/ld-linux-x86-64.so.2 "$T/lib64/ld-linux-x86-64.so.2"
# Not dlopen'ed through ldd, but needed at run time by glibc itself
# (pthread cancellation unwinds with libgcc_s).
[ -e /$LIBDIR/libgcc_s.so.1 ] && cp "$(readlink -f /$LIBDIR/libgcc_s.so.1)" "$T/$LIBDIR/libgcc_s.so.1"

# Every directory reachable by unprivileged processes, the root first.
find "$T" -type d -exec chmod 755 {} +
mkdir -p "$(dirname "$OUT")"
(cd "$T" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "pyroot: $OUT: $(du -k "$OUT" | cut -f1) KiB ($(du -sk "$T" | cut -f1) KiB unpacked)"
