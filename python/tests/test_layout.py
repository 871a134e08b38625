# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The ctypes mirrors and the constants of vsock_shm against the C headers:
a C program generated from the mirrors, compiled against userspace/include,
prints sizeof/offsetof of every field and every constant's value; each must
equal the Python side's. And the other way: every function, macro and
enumerator of <vsock-shm/server.h>, <vsock-shm/guest.h> and
<vsock-shm/protocol.h> is bound or named below as deliberately left out, so that a header that grows fails
here until the bindings follow.

    cd python && /usr/bin/python3 -B -m unittest tests.test_layout
(CC: the compiler, default cc.)
"""
from __future__ import annotations

import ctypes
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import vsock_shm
from vsock_shm import _glib, _lib, protocol

TOP = Path(__file__).resolve().parents[2]
INCLUDE = Path(os.environ.get("VSOCK_SHM_INCLUDEDIR", TOP / "userspace" / "include"))
HEADERS = [INCLUDE / "vsock-shm" / n for n in ("protocol.h", "server.h", "guest.h")]

# Every mirror, server and guest library, by C name.
STRUCTS = {**_lib.STRUCTS, **_glib.STRUCTS}

# In the headers, not bound, and why.
NOT_BOUND = {
    "VSHM_API": "a visibility attribute",
    "VSHM_ANON_UNION": "a C syntax helper",
    "VSHM_PAGES_PER_HUGE": "derived: VSHM_HUGE_PAGE_SIZE // VSHM_PAGE_SIZE",
    "VSHM_GPA_LIST_HDR_SIZE": "guest message sizes: the library builds the messages",
    "VSHM_EXTENT_SIZE": "guest message sizes",
    "VSHM_GPA_LIST_SIZE": "guest message sizes",
    "VSHM_MAX_EXT_PER_MSG": "guest message sizes",
    "VSHM_SERVER_MIN_SOCK_BUF": "the library raises a smaller sock_buf itself",
    "vshm_server_run": "Server.run() loops on poll() so that Python "
                       "signal handlers run (KeyboardInterrupt)",
}


def c_fields(cls: type[ctypes.Structure]) -> list[str]:
    return [f[0] for f in cls._fields_]


def int_constants() -> dict[str, int]:
    return {k: int(v) for k, v in vars(protocol).items()
            if k.startswith("VSHM_") and isinstance(v, int)}


def compile_and_run(src: str) -> str:
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as d:
        c, exe = Path(d) / "layout.c", Path(d) / "layout"
        c.write_text(src)
        p = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
                            "-I", str(INCLUDE), "-o", str(exe), str(c)],
                           capture_output=True, text=True)
        if p.returncode:
            raise AssertionError(f"{cc} failed on the generated program:\n{p.stderr}")
        return subprocess.run([str(exe)], check=True, capture_output=True,
                              text=True).stdout


class Layout(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        lines = ["#include <stddef.h>", "#include <stdio.h>",
                 "#include <vsock-shm/server.h>", "#include <vsock-shm/guest.h>",
                 "int main(void)", "{"]
        for cname, py in STRUCTS.items():
            lines.append(f'\tprintf("S {cname} %zu %zu\\n", sizeof(struct {cname}),'
                         f' _Alignof(struct {cname}));')
            for f in c_fields(py):
                lines.append(f'\tprintf("F {cname} {f} %zu %zu\\n", '
                             f'offsetof(struct {cname}, {f}), '
                             f'sizeof(((struct {cname} *)0)->{f}));')
        for name in int_constants():
            lines.append(f'\tprintf("C {name} %llu\\n", (unsigned long long)({name}));')
        lines.append('\tprintf("P %s\\n", VSHM_MAPPER_PATH);')
        lines += ["\treturn 0;", "}", ""]
        cls.out = compile_and_run("\n".join(lines))
        cls.sizes: dict[str, tuple[int, int]] = {}
        cls.fields: dict[tuple[str, str], tuple[int, int]] = {}
        cls.consts: dict[str, int] = {}
        for line in cls.out.splitlines():
            kind, *rest = line.split()
            if kind == "S":
                cls.sizes[rest[0]] = (int(rest[1]), int(rest[2]))
            elif kind == "F":
                cls.fields[(rest[0], rest[1])] = (int(rest[2]), int(rest[3]))
            elif kind == "C":
                cls.consts[rest[0]] = int(rest[1])
            elif kind == "P":
                cls.mapper_path = rest[0]

    def test_struct_sizes(self) -> None:
        for cname, py in STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertEqual(self.sizes[cname],
                                 (ctypes.sizeof(py), ctypes.alignment(py)),
                                 "C (sizeof, alignof) vs ctypes")

    def test_field_offsets_and_sizes(self) -> None:
        for cname, py in STRUCTS.items():
            for f in c_fields(py):
                with self.subTest(field=f"{cname}.{f}"):
                    desc = getattr(py, f)
                    self.assertEqual(self.fields[(cname, f)],
                                     (desc.offset, desc.size),
                                     "C (offsetof, sizeof) vs ctypes")

    def test_0_1_fields_first(self) -> None:
        # A 0.1 library's struct vshm_session_region ends where the 0.2
        # fields start: the bindings read those only from a 0.2 library.
        first = _lib._REGION_0_2[0][0]
        end_0_1 = max(o + s for (c, f), (o, s) in self.fields.items()
                      if c == "vshm_session_region"
                      and f in dict(_lib._REGION_0_1))
        self.assertLessEqual(end_0_1, self.fields[("vshm_session_region", first)][0])

    def test_constants(self) -> None:
        mask = (1 << 64) - 1
        for name, value in int_constants().items():
            with self.subTest(constant=name):
                self.assertEqual(self.consts[name], value & mask)
        self.assertEqual(self.mapper_path, protocol.VSHM_MAPPER_PATH)

    def test_enums_cover_the_c_ranges(self) -> None:
        c = self.consts
        self.assertEqual(list(protocol.Err), list(range(0, c["VSHM_E_MAX"] + 1)))
        self.assertEqual(list(protocol.RevokeReason),
                         list(range(1, c["VSHM_REVOKE_MAX"] + 1)))
        self.assertEqual(int(protocol.Feature.REVOKED | protocol.Feature.COOKIE
                             | protocol.Feature.NOTIFY), c["VSHM_FEAT_MASK"])
        self.assertEqual(int(protocol.Access.READ | protocol.Access.WRITE),
                         c["VSHM_ACCESS_MASK"])
        self.assertEqual([int(t) for t in protocol.EventType],
                         [c["VSHM_GUEST_EV_REVOKED"], c["VSHM_GUEST_EV_NOTIFY"]])

    def test_stats_dataclass_has_every_counter(self) -> None:
        from dataclasses import fields
        counters = [f for f in c_fields(_lib.ServerStatsC) if f != "reserved"]
        self.assertEqual([f.name for f in fields(vsock_shm.ServerStats)], counters)


class HeadersBound(unittest.TestCase):
    """Every name of the public server and guest headers is bound or in
    NOT_BOUND."""

    def setUp(self) -> None:
        self.text = "\n".join(h.read_text() for h in HEADERS)
        # Comments out: names quoted there are not declarations.
        self.text = re.sub(r"/\*.*?\*/", "", self.text, flags=re.S)

    def test_functions(self) -> None:
        declared = set(re.findall(r"VSHM_API[^;(]*?\b(vshm_\w+)\s*\(", self.text))
        self.assertIn("vshm_server_new", declared)
        self.assertIn("vshm_share_ex", declared)
        bound = {n for n in dir(_lib.lib) if n.startswith("vshm_")}
        bound |= set(_lib._OPTIONAL_PROTOS)
        bound |= {n for n in dir(_glib.lib) if n.startswith("vshm_")}
        bound |= set(_glib._OPTIONAL_PROTOS)
        missing = declared - bound - set(NOT_BOUND)
        self.assertFalse(missing, f"functions of the headers not bound: {sorted(missing)}")

    def test_macros_and_enumerators(self) -> None:
        macros = set(re.findall(r"#define\s+(VSHM_\w+)", self.text))
        enums = set(re.findall(r"\b(VSHM_\w+)\s*(?:=[^,}]*)?[,}\n]", " ".join(
            re.findall(r"enum\s+\w+\s*{([^}]*)}", self.text))))
        names = {n for n in macros | enums if not n.startswith("VSOCK_SHM_")}
        bound = set(int_constants()) | {"VSHM_MAPPER_PATH"}
        missing = names - bound - set(NOT_BOUND)
        self.assertFalse(missing, f"names of the headers not bound: {sorted(missing)}")

    def test_struct_fields(self) -> None:
        # Every field of a mirrored structure, by name (the reserved
        # entries a union overlays are the ctypes field's place).
        for cname, py in STRUCTS.items():
            m = re.search(r"struct\s+" + cname + r"\s*{(.*?)\n};", self.text, re.S)
            self.assertIsNotNone(m, cname)
            body = re.sub(r"\(\s*\*\s*(\w+)\s*\)\s*\([^)]*\)", r"\1", m.group(1))
            body = re.sub(r"VSHM_ANON_UNION\s*{[^}]*?(\w+)\s*;[^}]*}\s*;",
                          r"uint64_t \1;", body)
            names = re.findall(r"(\w+)\s*(?:\[\w+\])?\s*;", body)
            with self.subTest(struct=cname):
                self.assertEqual(names, c_fields(py))


if __name__ == "__main__":
    unittest.main()
