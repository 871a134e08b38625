# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""vsock_shm.Guest on the build machine, where no host server answers: the
argument errors (ValueError/TypeError before the library is called), the
library's EINVAL for options it refuses, a connect to a port nobody serves
failing with the errno a plain socket gets there, a closed Guest; and the
bindings' plumbing around the library, driven with its functions replaced
by stand-ins over memory of the test: a failed share as OSError with the
library's failure text, an exception of fill() coming out of share(), the
buffer's lifetime rules of free(), events of dispatch()/next_event(). The
lab test (selftests/python, pyguest.py in an L2 guest) shares for real.

    cd python && /usr/bin/python3 -B -m unittest tests.test_guest
"""
from __future__ import annotations

import ctypes
import errno
import gc
import mmap
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
import unittest
from typing import Any
from unittest import mock

import vsock_shm
from vsock_shm import (Access, Err, EventType, Feature, Guest, GuestRegion,
                       RevokeReason, _glib)

PORT = 47124    # a port nothing here serves


def plain_connect_errno(cid: int, port: int) -> int:
    """The errno a plain AF_VSOCK SOCK_SEQPACKET connect gets here."""
    try:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    except OSError as e:
        return e.errno
    try:
        s.settimeout(5)
        s.connect((cid, port))
    except socket.timeout:
        return errno.ETIMEDOUT
    except OSError as e:
        return e.errno
    finally:
        s.close()
    return 0


class FakeGuest(Guest):
    """Its close() never reaches the library with the stand-in handle."""

    def close(self) -> None:
        for region in list(self._regions.values()):
            region._gone()
        self._g = None


def fake_guest(on_event: Any = None) -> Guest:
    """A Guest object whose handle is a stand-in (never given to the real
    library: every function it reaches is replaced in the test)."""
    g = FakeGuest.__new__(FakeGuest)
    g._g, g._regions, g._exc, g._cb = 0xdead0, {}, None, None
    g.cid, g.port = 2, PORT
    if on_event is not None:
        g._on_event = on_event
    return g


class Arguments(unittest.TestCase):
    def test_bad_ports_and_cids(self) -> None:
        for port in (0, -1, 2**32, "7000", 1.5):
            with self.subTest(port=port), self.assertRaises(ValueError):
                Guest(port)  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            Guest(PORT, cid=-1)

    def test_bad_times_and_features(self) -> None:
        for kw in ({"timeout_ms": -1}, {"connect_wait_ms": -5},
                   {"connect_wait_ms": 2**31}, {"features": -1},
                   {"features": 1 << 64}):
            with self.subTest(**kw), self.assertRaises(ValueError):
                Guest(PORT, **kw)

    def test_feature_bits_the_library_lacks_are_einval(self) -> None:
        with self.assertRaises(OSError) as cm:
            Guest(PORT, features=1 << 40)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_connect_to_nobody_fails_as_a_socket_does(self) -> None:
        want = plain_connect_errno(vsock_shm.guest.VMADDR_CID_HOST, PORT)
        self.assertNotEqual(want, 0, "something serves the test's port")
        t = time.monotonic()
        with self.assertRaises(OSError) as cm:
            Guest(PORT, timeout_ms=5000, connect_wait_ms=600)
        took = time.monotonic() - t
        refusals = (errno.ECONNREFUSED, errno.ECONNRESET)
        if want in refusals:
            # Either, as the transport says it; and tried again until
            # connect_wait_ms passed.
            self.assertIn(cm.exception.errno, refusals, str(cm.exception))
            self.assertGreaterEqual(took, 0.55)
        else:
            self.assertEqual(cm.exception.errno, want, str(cm.exception))
        self.assertIn(f"2:{PORT}", str(cm.exception))

    def test_closed_guest(self) -> None:
        g = fake_guest()
        g._g = None
        for call in (lambda: g.share(4096), lambda: g.fileno(),
                     lambda: g.dispatch(), lambda: g.next_event(),
                     lambda: g.share_memfd(0, 0, 4096), lambda: g.last_failure):
            with self.assertRaisesRegex(ValueError, "closed"):
                call()
        g.close()       # twice: nothing
        self.assertIn("closed", repr(g))

    def test_share_arguments(self) -> None:
        g = fake_guest()
        with mock.patch.dict(_glib._OPTIONAL, {"vshm_share_ex": self.fail}):
            for size in (0, -4096, 4096.0):
                with self.subTest(size=size), self.assertRaises(ValueError):
                    g.share(size)  # type: ignore[arg-type]
            for cookie in (-1, 1 << 64):
                with self.subTest(cookie=cookie), self.assertRaises(ValueError):
                    g.share(4096, cookie=cookie)
            with self.assertRaises(ValueError):
                g.share(4096, access=1 << 33)
            with self.assertRaisesRegex(TypeError, "read-only"):
                g.share_buffer(bytes(4096))
            with self.assertRaisesRegex(TypeError, "not a buffer"):
                g.share_buffer(4096)
            with self.assertRaisesRegex(ValueError, "empty"):
                g.share_buffer(bytearray())
            with self.assertRaises(ValueError):
                g.share_memfd(3, -1, 4096)


class Plumbing(unittest.TestCase):
    """The library's functions replaced by stand-ins over test memory."""

    def setUp(self) -> None:
        self.mem = mmap.mmap(-1, 8192)
        self.addr = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))
        self.args: list[_glib.ShareArgsC] = []
        self.freed: list[int] = []
        self.free_ret = 0
        self.failure = b""
        lib = _glib.lib
        patches = [
            mock.patch.object(lib, "vshm_region_id", lambda r: 7),
            mock.patch.object(lib, "vshm_region_size", lambda r: 8192),
            mock.patch.object(lib, "vshm_region_ptr", lambda r: self.addr),
            mock.patch.object(lib, "vshm_free", self.fake_free),
            mock.patch.object(lib, "vshm_guest_last_failure",
                              lambda g: self.failure),
            mock.patch.dict(_glib._OPTIONAL, {
                "vshm_share_ex": self.fake_share_ex,
                "vshm_region_cookie": lambda r: 0xC0FFEE,
                "vshm_region_revoked": lambda r: 5}),
        ]
        for p in patches:
            p.start()
            self.addCleanup(p.stop)
        self.g = fake_guest()

    def tearDown(self) -> None:
        self.g._regions.clear()
        gc.collect()
        self.mem.close()

    def fake_share_ex(self, g: int, argp: Any) -> int | None:
        a = argp._obj
        self.args.append(a)
        if a.size == 12:
            self.failure = b"size 12 is not a multiple of 4096"
            ctypes.set_errno(errno.EINVAL)
            return None
        if a.size == 24:
            ctypes.set_errno(errno.EINVAL)     # sets no text
            return None
        if a.fill:
            ret = a.fill(self.addr, a.size, 7, None)
            if ret:
                ctypes.set_errno(-ret)
                return None
        return 0xbeef0

    def fake_free(self, r: int) -> int:
        self.freed.append(r)
        return self.free_ret

    def test_failure_is_oserror_with_the_library_text(self) -> None:
        with self.assertRaises(OSError) as cm:
            self.g.share(12)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertIn("not a multiple of 4096", str(cm.exception))
        # A failure that sets no text of its own gets no stale one.
        with self.assertRaises(OSError) as cm:
            self.g.share(24)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertNotIn("multiple", str(cm.exception))

    def test_share_arguments_reach_the_library(self) -> None:
        r = self.g.share(8192, huge=True, access=Access.READ, cookie=0x1234)
        a = self.args[-1]
        self.assertEqual((a.size, a.flags, a.access, a.cookie, a.memfd),
                         (8192, 0x1, 1, 0x1234, -1))
        self.assertEqual((r.id, r.size, r.cookie, r.kind), (7, 8192, 0xC0FFEE, "alloc"))
        self.assertEqual(r.revoked(), RevokeReason.MIGRATION)
        self.g.share_memfd(9, 2 << 20, 4096, cookie=5)
        a = self.args[-1]
        self.assertEqual((a.flags, a.memfd, a.offset, a.size, a.cookie),
                         (0x4, 9, 2 << 20, 4096, 5))
        buf = mmap.mmap(-1, 4096)
        b = self.g.share_buffer(buf)
        a = self.args[-1]
        self.assertEqual((a.flags, a.size), (0x2, 4096))
        self.assertEqual(a.addr, ctypes.addressof(ctypes.c_char.from_buffer(buf)))
        with self.assertRaises(BufferError):
            buf.close()             # exported while shared
        b.free()
        buf.close()                 # the library no longer has it

    def test_fill_sees_the_memory_and_its_exception_comes_out(self) -> None:
        seen = []

        def fill(view: memoryview, rid: int) -> None:
            seen.append((len(view), rid))
            view[:4] = b"FILL"
        r = self.g.share(8192, fill=fill)
        self.assertEqual(seen, [(8192, 7)])
        self.assertEqual(bytes(r.buffer[:4]), b"FILL")
        self.assertEqual(self.mem[:4], b"FILL")

        class Boom(Exception):
            pass

        def bad(view: memoryview, rid: int) -> None:
            raise Boom("no")
        with self.assertRaises(Boom):
            self.g.share(8192, fill=bad)

    def test_free_releases_the_buffer(self) -> None:
        r = self.g.share(8192)
        view = r.buffer
        self.assertIn(r, self.g.regions)
        r.free()
        self.assertEqual(self.freed, [0xbeef0])
        self.assertTrue(r.freed)
        self.assertNotIn(r, self.g.regions)
        with self.assertRaises(ValueError):
            len(view)
        with self.assertRaises(ValueError):
            r.buffer
        with self.assertRaises(ValueError):
            r.notify(1)
        r.free()                    # twice: nothing
        self.assertEqual(len(self.freed), 1)

    def test_free_refuses_while_views_live(self) -> None:
        r = self.g.share(8192)
        part = r.buffer[100:200]
        with self.assertRaisesRegex(BufferError, "views"):
            r.free()
        self.assertEqual(self.freed, [])
        r.buffer[100] = 42          # still usable
        self.assertEqual(part[0], 42)
        part.release()
        r.free()
        self.assertEqual(self.freed, [0xbeef0])

    def test_free_refused_by_the_host_keeps_the_region(self) -> None:
        r = self.g.share(8192)
        self.free_ret = -errno.EPROTO
        with self.assertRaises(OSError) as cm:
            r.free()
        self.assertEqual(cm.exception.errno, errno.EPROTO)
        self.assertFalse(r.freed)
        r.buffer[0] = 1             # the buffer is back
        self.free_ret = 0
        r.free()
        self.assertTrue(r.freed)

    def test_context_manager_frees(self) -> None:
        with self.g.share(8192) as r:
            r.buffer[0] = 3
        self.assertTrue(r.freed)

    def test_notify_arguments(self) -> None:
        r = self.g.share(8192)
        sent = []
        with mock.patch.dict(_glib._OPTIONAL, {
                "vshm_region_notify": lambda h, b: sent.append(b) or 0}):
            for bits in (0, -1, 1 << 32):
                with self.subTest(bits=bits), self.assertRaises(ValueError):
                    r.notify(bits)
            r.notify(0x5)
        self.assertEqual(sent, [0x5])
        with mock.patch.dict(_glib._OPTIONAL, {
                "vshm_region_notify": lambda h, b: -errno.EOPNOTSUPP}):
            with self.assertRaises(OSError) as cm:
                r.notify(1)
        self.assertEqual(cm.exception.errno, errno.EOPNOTSUPP)

    def test_next_event(self) -> None:
        r = self.g.share(8192)
        queue = [(EventType.NOTIFY, 0x9, 0), (EventType.REVOKED, 0, 2)]

        def next_event(g: int, evp: Any) -> int:
            if not queue:
                return 0
            t, bits, reason = queue.pop(0)
            ev = evp._obj
            ev.type, ev.region, ev.r = t, 7, 0xbeef0
            ev.bits, ev.reason, ev.grant = bits, reason, 99
            return 1
        with mock.patch.dict(_glib._OPTIONAL, {"vshm_guest_next_event": next_event}):
            e1, e2, e3 = (self.g.next_event() for _ in range(3))
        self.assertEqual((e1.type, e1.region_id, e1.region, e1.bits),
                         (EventType.NOTIFY, 7, r, 0x9))
        self.assertEqual((e2.type, e2.reason, e2.grant), (EventType.REVOKED,
                                                          RevokeReason.CLOSED, 99))
        self.assertIsNone(e3)

    def test_dispatch_raises_the_callbacks_exception(self) -> None:
        got = []

        def on_event(ev: vsock_shm.GuestEvent) -> None:
            got.append(ev)
            raise RuntimeError("from on_event")
        g = fake_guest(on_event)
        ev = _glib.GuestEventC(type=2, region=3, bits=1)

        def dispatch(h: int) -> int:
            g._t_event(h, ctypes.pointer(ev), None)
            g._t_event(h, ctypes.pointer(ev), None)
            return 2
        with mock.patch.dict(_glib._OPTIONAL, {"vshm_guest_dispatch": dispatch}):
            with self.assertRaisesRegex(RuntimeError, "from on_event"):
                g.dispatch()
            self.assertEqual(len(got), 2)       # both delivered
            self.assertIsNone(got[0].region)    # not a region it holds
        with mock.patch.dict(_glib._OPTIONAL, {"vshm_guest_dispatch": lambda h: -errno.ECONNRESET}):
            with self.assertRaises(OSError) as cm:
                g.dispatch()
        self.assertEqual(cm.exception.errno, errno.ECONNRESET)
        g._g = None

    def test_last_error(self) -> None:
        def last_error(g: int, code: Any, detail: Any) -> int:
            code._obj.value, detail._obj.value = Err.DENIED, 4
            return 0
        with mock.patch.object(_glib.lib, "vshm_guest_last_error", last_error):
            self.assertEqual(self.g.last_error, (Err.DENIED, 4))
        with mock.patch.object(_glib.lib, "vshm_guest_last_error",
                               lambda g, c, d: -errno.ENOENT):
            self.assertIsNone(self.g.last_error)
        with mock.patch.dict(_glib._OPTIONAL, {"vshm_guest_features": lambda g: 6}):
            self.assertEqual(self.g.features, Feature.COOKIE | Feature.NOTIFY)


class Package(unittest.TestCase):
    def test_exports(self) -> None:
        for name in ("Guest", "GuestRegion", "GuestEvent", "RegionStats",
                     "EventType", "GUEST_HAS_0_2", "guest_library_path"):
            self.assertTrue(hasattr(vsock_shm, name), name)
        self.assertIsNone(vsock_shm.GUEST_ERROR)
        self.assertTrue(vsock_shm.GUEST_HAS_0_2)
        self.assertIs(GuestRegion, vsock_shm.guest.GuestRegion)


    def import_with_only(self, which: str) -> str:
        """`import vsock_shm` in a child whose VSOCK_SHM_LIBDIR holds only
        one library of the two (a guest has no server library)."""
        src = {"guest": _glib.path, "server": vsock_shm.library_path}[which]
        prog = ("import vsock_shm as v\n"
                "print('server', v.SERVER_ERROR is None, 'guest', v.GUEST_ERROR is None)\n"
                "print('err_name', v.err_name(24))\n"
                "for n in ('Server', 'Guest'):\n"
                "    try:\n"
                "        getattr(v, n)\n"
                "        print(n, 'present')\n"
                "    except ImportError as e:\n"
                "        print(n, 'ImportError', 'cannot load' in str(e))\n")
        with tempfile.TemporaryDirectory() as d:
            os.symlink(src, Path(d) / Path(src).name)
            env = dict(os.environ, VSOCK_SHM_LIBDIR=d,
                       PYTHONPATH=str(Path(vsock_shm.__file__).parents[1]))
            p = subprocess.run([sys.executable, "-B", "-c", prog], env=env,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_import_with_the_guest_library_only(self) -> None:
        self.assertEqual(self.import_with_only("guest").splitlines(),
                         ["server False guest True", "err_name VSHM_E_DENIED",
                          "Server ImportError True", "Guest present"])

    def test_import_with_the_server_library_only(self) -> None:
        self.assertEqual(self.import_with_only("server").splitlines(),
                         ["server True guest False", "err_name VSHM_E_DENIED",
                          "Server present", "Guest ImportError True"])


if __name__ == "__main__":
    unittest.main()
