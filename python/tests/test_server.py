# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""vsock_shm.Server on the build machine, where no guest can connect: the
errors of vshm_server_new() as OSError, a server on a mapper stand-in
(/dev/null: the library then warns that revocations come as SIGBUS only),
its fd in a selector, stop(), close(); and the bindings' rules for buffers
and ranges, driven through the callbacks the library would call, with
regions laid over memory of the test and vshm_server_release() recorded
instead of called. The lab test (selftests/python) does the same with
real guests.

    cd python && /usr/bin/python3 -B -m unittest tests.test_server
"""
from __future__ import annotations

import ctypes
import errno
import gc
import pickle
import selectors
import socket
import threading
import time
import unittest
import warnings
from typing import Any
from unittest import mock

import vsock_shm
from vsock_shm import Access, EndReason, Err, RegionState, RevokeReason, Server, _lib

PORT = 47123    # a port nothing else here listens on


def vsock_listen_possible() -> bool:
    try:
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_SEQPACKET)
    except (OSError, AttributeError):
        return False
    s.close()
    return True


NEED_VSOCK = unittest.skipUnless(vsock_listen_possible(),
                                 "no AF_VSOCK here: cannot listen")


class NewErrors(unittest.TestCase):
    def test_no_mapper_is_enoent_and_logged(self) -> None:
        lines: list[str] = []
        with self.assertRaises(OSError) as cm:
            Server(PORT, mapper_path="/nonexistent/mapper", log=lines.append)
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        self.assertTrue(any("/nonexistent/mapper" in ln for ln in lines), lines)

    def test_port_0_is_einval(self) -> None:
        with self.assertRaises(OSError) as cm:
            Server(0, mapper_path="/dev/null")
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    @NEED_VSOCK
    def test_port_in_use_is_eaddrinuse(self) -> None:
        with Server(PORT, mapper_path="/dev/null", log=lambda _l: None):
            with self.assertRaises(OSError) as cm:
                Server(PORT, mapper_path="/dev/null", log=lambda _l: None)
            self.assertEqual(cm.exception.errno, errno.EADDRINUSE)

    @NEED_VSOCK
    def test_log_exception_raised_by_constructor(self) -> None:
        def log(line: str) -> None:
            raise RuntimeError("log: " + line)
        with self.assertRaisesRegex(RuntimeError, "log: .*revocation"):
            Server(PORT, mapper_path="/dev/null", log=log)
        # It closed the server it made: the port is free again.
        Server(PORT, mapper_path="/dev/null", log=lambda _l: None).close()


@NEED_VSOCK
class Driving(unittest.TestCase):
    def setUp(self) -> None:
        self.log: list[str] = []
        self.srv = Server(PORT, mapper_path="/dev/null", log=self.log.append)

    def tearDown(self) -> None:
        self.srv.close()

    def test_mapper_without_events_is_logged(self) -> None:
        self.assertTrue(any("revocation" in ln for ln in self.log), self.log)

    def test_poll_waits_for_its_timeout(self) -> None:
        t = time.monotonic()
        self.srv.poll(0.2)
        self.assertGreaterEqual(time.monotonic() - t, 0.15)
        self.srv.poll(0)

    def test_stats_start_at_zero(self) -> None:
        st = self.srv.stats()
        self.assertEqual(st.conns_accepted, 0)
        self.assertEqual(st.regions_held, 0)

    @unittest.skipUnless(_lib.HAS_0_2, "library older than 0.2")
    def test_fileno_in_a_selector(self) -> None:
        fd = self.srv.fileno()
        self.assertGreaterEqual(fd, 0)
        self.assertEqual(fd, self.srv.fileno())
        with selectors.DefaultSelector() as sel:
            sel.register(self.srv, selectors.EVENT_READ)
            self.assertEqual(sel.select(0.05), [])     # nothing to serve
        self.srv.dispatch()                             # does not wait

    def test_stop_ends_run_from_another_thread(self) -> None:
        t = threading.Timer(0.2, self.srv.stop)
        t.start()
        start = time.monotonic()
        self.srv.run(interval=0.1)
        self.assertLess(time.monotonic() - start, 5)
        t.join()

    def test_closed_server_refuses_calls(self) -> None:
        self.srv.close()
        self.srv.close()                    # twice is fine
        with self.assertRaises(ValueError):
            self.srv.poll(0)
        with self.assertRaises(ValueError):
            self.srv.stats()

    def test_context_manager_closes(self) -> None:
        self.srv.close()
        with Server(PORT, mapper_path="/dev/null", log=lambda _l: None) as s:
            pass
        with self.assertRaises(ValueError):
            s.poll(0)


class FakeRegion:
    """A struct vshm_session_region over memory of the test, as the library
    would pass it to the callbacks."""

    def __init__(self, size: int = 8192, access: int = 3, rid: int = 1) -> None:
        self.mem = ctypes.create_string_buffer(size)
        self.c = _lib.SessionRegionC()
        self.c.id = rid
        self.c.peer_cid = 3
        self.c.state = RegionState.MAPPED
        self.c.size = size
        self.c.page_size = 4096
        self.c.access = access
        self.c.nr_pages = size // 4096
        self.c.ptr = self.c.addr = ctypes.addressof(self.mem)
        self.c.info.size = size
        self.c.info.access = access
        self.c.info.nr_pages = size // 4096
        if _lib.HAS_0_2:
            self.c.conn_id = 7
            self.c.peer_port = 1023
            self.c.cookie = 0xC00C1E
        self.p = ctypes.pointer(self.c)

    def unmap(self) -> None:
        """What the library does before on_ended and on_revoked ends."""
        self.c.ptr = None


@NEED_VSOCK
class Lifetime(unittest.TestCase):
    """Region.buffer and the ranges Python keeps, through the callbacks."""

    def setUp(self) -> None:
        self.released: list[int] = []
        self.on_mapped: Any = None
        self.on_ended: Any = None
        self.on_revoked: Any = None
        self.ended: list[tuple[Any, Any]] = []
        kw: dict[str, Any] = {}
        if _lib.HAS_0_2:
            kw["on_revoked"] = lambda r, why: self.on_revoked and self.on_revoked(r, why)
        self.srv = Server(PORT, mapper_path="/dev/null", log=lambda _l: None,
                          on_mapped=lambda r: self.on_mapped(r) if self.on_mapped else None,
                          on_ended=self._ended, **kw)

        def release(_s: Any, addr: int) -> int:
            self.released.append(addr)
            return 0
        p = mock.patch.object(_lib.lib, "vshm_server_release", release)
        p.start()
        self.addCleanup(p.stop)

    def tearDown(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self.srv.close()

    def _ended(self, r: Any, why: Any) -> None:
        self.ended.append((r, why))
        if self.on_ended:
            self.on_ended(r, why)

    def map(self, f: FakeRegion) -> int:
        return self.srv._t_mapped(None, f.p)

    def end(self, f: FakeRegion, why: int = EndReason.FREED) -> int:
        f.unmap()
        return self.srv._t_ended(None, f.p, why)

    def test_buffer_during_on_mapped_only(self) -> None:
        f = FakeRegion()
        f.mem[0:5] = b"guest"
        seen: dict[str, Any] = {}

        def on_mapped(r: vsock_shm.Region) -> None:
            seen["region"], seen["mv"] = r, r.buffer
            seen["data"] = bytes(r.buffer[:5])
            r.buffer[5:9] = b"host"
            self.assertEqual(r.buffer.nbytes, 8192)
            self.assertFalse(r.buffer.readonly)
        self.on_mapped = on_mapped
        self.assertEqual(self.map(f), 0)
        self.assertEqual(seen["data"], b"guest")
        self.assertEqual(f.mem[5:9], b"host")
        r = seen["region"]
        self.assertFalse(r.mapped)
        with self.assertRaisesRegex(ValueError, "without hold"):
            r.buffer
        with self.assertRaises(ValueError):
            seen["mv"][0]                   # the very view it had
        self.assertEqual(self.end(f), 0)    # nothing to hold
        self.assertEqual(self.ended, [(r, EndReason.FREED)])
        self.assertTrue(r.ended)
        self.srv.poll(0)
        self.assertEqual(self.released, [])

    def test_region_fields(self) -> None:
        f = FakeRegion(size=12288, access=1, rid=9)
        got: list[vsock_shm.Region] = []
        self.on_mapped = got.append
        self.map(f)
        r = got[0]
        self.assertEqual((r.id, r.peer_cid, r.size, r.page_size, r.nr_pages),
                         (9, 3, 12288, 4096, 3))
        self.assertIs(r.state, RegionState.MAPPED)
        self.assertEqual(r.access, Access.READ)
        self.assertEqual(r.addr, ctypes.addressof(f.mem))
        self.assertIsNotNone(r.info)
        if _lib.HAS_0_2:
            self.assertEqual((r.conn_id, r.peer_port, r.cookie), (7, 1023, 0xC00C1E))
        self.end(f)

    def test_read_only_region_gives_read_only_buffer(self) -> None:
        f = FakeRegion(access=Access.READ)

        def on_mapped(r: vsock_shm.Region) -> None:
            self.assertTrue(r.buffer.readonly)
            with self.assertRaises(TypeError):
                r.buffer[0] = 1
        self.on_mapped = on_mapped
        self.assertEqual(self.map(f), 0)
        self.end(f)

    def test_hold_keeps_buffer_until_release_and_range_after_end(self) -> None:
        f = FakeRegion()
        got: list[vsock_shm.Region] = []

        def on_mapped(r: vsock_shm.Region) -> None:
            r.hold()
            got.append(r)
        self.on_mapped = on_mapped
        self.map(f)
        r = got[0]
        self.assertTrue(r.mapped and r.held)
        r.buffer[0] = 0x42
        self.assertEqual(f.mem[0], b"\x42")

        def on_ended(reg: vsock_shm.Region, why: Any) -> None:
            with self.assertRaisesRegex(ValueError, "ended"):
                reg.buffer
        self.on_ended = on_ended
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        self.srv.poll(0)
        self.assertEqual(self.released, [])         # held until release()
        self.assertTrue(r.release())
        self.assertEqual(self.released, [ctypes.addressof(f.mem)])
        self.assertTrue(r.release())                # once only
        self.assertEqual(len(self.released), 1)

    def test_release_before_end_means_no_hold(self) -> None:
        f = FakeRegion()
        got: list[vsock_shm.Region] = []
        self.on_mapped = lambda r: (r.hold(), got.append(r)) and None
        self.map(f)
        self.assertTrue(got[0].release())
        self.assertFalse(got[0].mapped)
        self.assertEqual(self.end(f), 0)

    def test_views_keep_the_range_until_gone(self) -> None:
        f = FakeRegion()
        keep: list[memoryview] = []
        self.on_mapped = lambda r: keep.append(r.buffer[16:32])
        self.map(f)
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        self.srv.poll(0)
        self.assertEqual(self.released, [])         # a slice still lives
        keep.clear()
        gc.collect()
        self.srv.poll(0)
        self.assertEqual(self.released, [ctypes.addressof(f.mem)])
        self.srv.poll(0)
        self.assertEqual(len(self.released), 1)

    def test_buffer_export_keeps_the_range(self) -> None:
        f = FakeRegion()
        keep: list[Any] = []
        # A buffer export of the view itself (as numpy.frombuffer takes):
        # the view cannot be released while it lives.
        self.on_mapped = lambda r: keep.append(pickle.PickleBuffer(r.buffer))
        self.map(f)
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        keep.clear()
        gc.collect()
        self.srv.poll(0)
        self.assertEqual(len(self.released), 1)

    def test_refusal(self) -> None:
        f = FakeRegion()
        got: list[vsock_shm.Region] = []

        def on_mapped(r: vsock_shm.Region) -> int:
            r.hold()
            got.append(r)
            return Err.DENIED
        self.on_mapped = on_mapped
        self.assertEqual(self.map(f), Err.DENIED)
        # Refused: the library unmaps it at once, so the buffer goes even
        # though it was held; the range stays held.
        self.assertFalse(got[0].mapped)
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        got[0].release()
        self.assertEqual(len(self.released), 1)

    def test_exception_refuses_and_is_raised_by_the_next_call(self) -> None:
        f1, f2 = FakeRegion(rid=1), FakeRegion(rid=2)

        def on_mapped(r: vsock_shm.Region) -> None:
            raise KeyError(f"region {r.id}")
        self.on_mapped = on_mapped
        self.assertEqual(self.map(f1), Err.INTERNAL)
        self.assertEqual(self.map(f2), Err.INTERNAL)
        with self.assertRaisesRegex(KeyError, "region 1") as cm:
            self.srv.poll(0)
        self.assertTrue(any("region 2" in n for n in cm.exception.__notes__))
        self.srv.poll(0)                    # raised once
        self.end(f1)
        self.end(f2)

    def test_bad_answer_is_internal(self) -> None:
        f = FakeRegion()
        self.on_mapped = lambda r: -5
        self.assertEqual(self.map(f), Err.INTERNAL)
        with self.assertRaisesRegex(ValueError, "not an Err"):
            self.srv.poll(0)
        self.end(f)

    def test_on_ended_exception_still_holds_views(self) -> None:
        f = FakeRegion()
        keep: list[memoryview] = []
        self.on_mapped = lambda r: keep.append(r.buffer[:8])

        def on_ended(_r: Any, _why: Any) -> None:
            raise RuntimeError("on_ended")
        self.on_ended = on_ended
        self.map(f)
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        with self.assertRaisesRegex(RuntimeError, "on_ended"):
            self.srv.poll(0)
        keep.clear()
        self.srv.poll(0)
        self.assertEqual(len(self.released), 1)

    def test_never_mapped_region_ends_without_hold(self) -> None:
        f = FakeRegion()
        f.c.ptr = f.c.addr = None
        f.c.state = RegionState.UPLOADING
        self.assertEqual(self.end(f, EndReason.CLOSED), 0)
        r, why = self.ended[0]
        self.assertIs(why, EndReason.CLOSED)
        self.assertIsNone(r.addr)
        self.assertIsNone(r.info)
        with self.assertRaises(ValueError):
            r.hold()

    def test_same_region_object_in_every_callback(self) -> None:
        f = FakeRegion()
        got: list[vsock_shm.Region] = []
        self.on_mapped = got.append
        self.map(f)
        self.end(f, EndReason.RESET)
        self.assertIs(self.ended[0][0], got[0])
        self.assertEqual(self.srv.regions(), [])

    @unittest.skipUnless(_lib.HAS_0_2, "library older than 0.2")
    def test_revocation_invalidates_a_held_buffer(self) -> None:
        f = FakeRegion()
        got: list[vsock_shm.Region] = []
        self.on_mapped = lambda r: (r.hold(), got.append(r)) and None
        revoked: list[Any] = []

        def on_revoked(r: vsock_shm.Region, why: Any) -> None:
            with self.assertRaisesRegex(ValueError, "revoked"):
                r.buffer
            revoked.append(why)
        self.on_revoked = on_revoked
        self.map(f)
        self.assertEqual(self.srv.regions(), got)
        self.srv._t_revoked(None, f.p, RevokeReason.MEMMAP)
        self.assertEqual(revoked, [RevokeReason.MEMMAP])
        self.assertFalse(got[0].mapped)
        self.assertEqual(self.end(f), vsock_shm.protocol.VSHM_HOLD)
        got[0].release()
        self.assertEqual(len(self.released), 1)


@NEED_VSOCK
@unittest.skipUnless(_lib.HAS_0_2, "library older than 0.2")
class Events(unittest.TestCase):
    """The 0.2 callbacks, through what the library would call, and
    notify()'s errors from the library."""

    def setUp(self) -> None:
        self.seen: list[Any] = []
        self.answer: Any = None
        self.srv = Server(PORT, mapper_path="/dev/null", log=lambda _l: None,
                          on_connect=self.on_connect,
                          on_disconnect=lambda c, why: self.seen.append(("disc", c, why)),
                          on_notify=lambda r, bits: self.seen.append(("notify", r.id, bits)))

    def tearDown(self) -> None:
        self.srv.close()

    def on_connect(self, c: vsock_shm.Connection) -> Any:
        self.seen.append(("conn", c))
        return self.answer

    def test_connect_answers(self) -> None:
        c = _lib.ConnInfoC(id=5, peer_cid=3, peer_port=1000, features=0)
        for answer, want in ((None, 0), (True, 0), (False, 1)):
            self.answer = answer
            self.assertEqual(self.srv._t_connect(None, ctypes.pointer(c)), want)
        self.assertEqual(self.seen[0], ("conn", vsock_shm.Connection(5, 3, 1000, vsock_shm.Feature(0))))

    def test_connect_exception_refuses(self) -> None:
        def boom(_c: Any) -> None:
            raise OSError("boom")
        self.srv._user["on_connect"] = boom
        c = _lib.ConnInfoC(id=6, peer_cid=3, peer_port=1000)
        self.assertEqual(self.srv._t_connect(None, ctypes.pointer(c)), 1)
        with self.assertRaisesRegex(OSError, "boom"):
            self.srv.poll(0)

    def test_disconnect_and_notify(self) -> None:
        c = _lib.ConnInfoC(id=7, peer_cid=4, peer_port=99, features=7)
        self.srv._t_disconnect(None, ctypes.pointer(c), EndReason.RESET)
        f = FakeRegion(rid=4)
        self.srv._t_notify(None, f.p, 0x10)
        self.assertEqual(self.seen, [
            ("disc", vsock_shm.Connection(7, 4, 99, vsock_shm.Feature(7)), EndReason.RESET),
            ("notify", 4, 0x10)])

    def test_notify_errors_from_the_library(self) -> None:
        f = FakeRegion(rid=4)
        got: list[vsock_shm.Region] = []
        self.srv._user["on_mapped"] = got.append
        self.srv._t_mapped(None, f.p)
        with self.assertRaises(OSError) as cm:
            self.srv.notify(got[0], 1)          # no connection 7 here
        self.assertEqual(cm.exception.errno, errno.ENOENT)
        with self.assertRaises(OSError) as cm:
            self.srv.notify(got[0], 0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        f.unmap()
        self.srv._t_ended(None, f.p, EndReason.FREED)


if __name__ == "__main__":
    unittest.main()
