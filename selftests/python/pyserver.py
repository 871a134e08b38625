#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The lab's Python server (selftests/python/run.sh): serves the guest of
selftests/python/guest.sh with vsock_shm.Server and checks what the
bindings show. Each guest run is told apart by its region size:

  1 MiB x3  checked and marked through the buffer; region 1 plain, region 2
            held with hold() and released after its end, region 3 with a
            slice kept past on_mapped (the bindings hold its range until
            the slice is gone); all freed by the guest (FREED)
  64 KiB    checked and marked; the guest exits without FREE (CLOSED)
  128 KiB   refused with Err.DENIED (the guest must see VSHM_E_DENIED)
  192 KiB   on_mapped raises: the region is refused with VSHM_E_INTERNAL
            and the exception comes out of dispatch()/poll()

Then the counters must agree with what the callbacks saw. With a 0.2
library it also checks on_connect/on_disconnect, each region's connection
and port, and that a guest's FREE or close gives on_revoked before on_ended;
it drives the server through fileno() + dispatch() in a selector until the
first run is done, then through poll().

Writes TAP to --tap FILE (ok N python/server: NAME); logs on stdout.
Exit status 0 when every check passed.

  pyserver.py --port P --tap FILE [--seed S] [--timeout SECONDS]
"""
from __future__ import annotations

import argparse
import array
import selectors
import sys
import time
from typing import Any, Callable

import vsock_shm
from vsock_shm import Access, EndReason, Err, RegionState

MiB, KiB = 1 << 20, 1 << 10
MASK = (1 << 64) - 1
PAGE = 4096


class Deliberate(Exception):
    """Raised by on_mapped for the 192 KiB region."""


def pattern(size: int, seed: int, rid: int) -> bytes:
    """The guest's fill (userspace/lib/pattern.h): word at byte offset off
    is seed ^ (rid << 48) ^ off, little-endian."""
    n = size // 8
    offs = array.array("Q", range(0, size, 8)).tobytes()
    mask = ((seed ^ (rid << 48)) & MASK).to_bytes(8, "little") * n
    x = int.from_bytes(offs, "little") ^ int.from_bytes(mask, "little")
    return x.to_bytes(size, "little")


def first_mismatch(got: bytes, want: bytes) -> str:
    for off in range(0, len(want), 8):
        if got[off:off + 8] != want[off:off + 8]:
            return (f"word at {off:#x}: {int.from_bytes(got[off:off + 8], 'little'):#x},"
                    f" want {int.from_bytes(want[off:off + 8], 'little'):#x}")
    return "lengths differ"


def label(size: int) -> str:
    return {MiB: "1MiB", 64 * KiB: "64KiB", 128 * KiB: "128KiB",
            192 * KiB: "192KiB"}.get(size, f"size {size}")


def name(v: Any) -> str:
    return getattr(v, "name", None) or str(v)


def released(mv: memoryview) -> bool:
    try:
        len(mv)
    except ValueError:
        return True
    return False


class Test:
    def __init__(self, tap: str, seed: int) -> None:
        self.tap = open(tap, "w", buffering=1)
        self.n = 0
        self.failed = 0
        self.seed = seed
        self.events: list[tuple] = []       # (what, size, id, detail)
        self.ended: dict[str, int] = {}     # EndReason name -> count
        self.accepted = 0
        self.later: list[Callable[[], None]] = []   # run after the next call
        self.keep: list[memoryview] = []
        self.held: vsock_shm.Region | None = None
        self.conns: dict[int, vsock_shm.Connection] = {}
        self.disconnects: list[tuple[int, Any]] = []
        self.revoked: list[tuple[int, int, Any]] = []
        self.exception_seen = False
        self.done_a = self.done_b = self.done_c = self.done_d = False

    def check(self, ok: bool, name: str, diag: str = "") -> bool:
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} python/server: {name}", file=self.tap)
        if diag and not ok:
            print(f"# {diag}", file=self.tap)
        print(f"pyserver: {'ok' if ok else 'NOT OK'}: {name} {diag}", flush=True)
        return ok

    # Callbacks

    def on_connect(self, c: vsock_shm.Connection) -> None:
        print(f"pyserver: connect {c}", flush=True)
        self.conns[c.id] = c

    def on_disconnect(self, c: vsock_shm.Connection, why: Any) -> None:
        print(f"pyserver: disconnect {c} {name(why)}", flush=True)
        self.disconnects.append((c.id, why))

    def on_revoked(self, r: vsock_shm.Region, why: Any) -> None:
        print(f"pyserver: revoked {r} {name(why)}", flush=True)
        self.revoked.append((r.size, r.id, why))
        self.events.append(("revoked", r.size, r.id, why))

    def check_and_mark(self, r: vsock_shm.Region, what: str) -> bool:
        buf = r.buffer
        want = pattern(r.info.size if r.info else 0, self.seed, r.id)
        got = bytes(buf)
        same = got == want
        if not self.check(same, f"{what}: region {r.id}: the guest's pattern read through the buffer",
                          "" if same else first_mismatch(got, want)):
            return False
        if not self.check(bool(r.access & Access.WRITE) and not buf.readonly,
                          f"{what}: region {r.id}: granted write, buffer writable",
                          f"access {r.access!r}, readonly {buf.readonly}"):
            return False
        # The first word of every page becomes its complement: the guest
        # checks that after MAPPED.
        for off in range(0, len(buf), PAGE):
            w = int.from_bytes(want[off:off + 8], "little")
            buf[off:off + 8] = (~w & MASK).to_bytes(8, "little")
        return True

    def on_mapped(self, r: vsock_shm.Region) -> int | None:
        print(f"pyserver: mapped {r}", flush=True)
        self.events.append(("mapped", r.size, r.id, None))
        what = label(r.size)
        info = r.info
        self.check(r.state == RegionState.MAPPED and r.peer_cid == 3 and info is not None
                   and info.size == r.size and r.nr_pages == r.size // PAGE
                   and r.page_size == PAGE and r.access == Access.READ | Access.WRITE
                   and r.addr is not None and r.buffer.nbytes == r.size,
                   f"{what}: region {r.id}: fields as shared", repr(r))
        if vsock_shm.HAS_0_2:
            c = self.conns.get(r.conn_id or -1)
            self.check(c is not None and c.peer_port == r.peer_port and r.peer_port < 1024
                       and r.cookie == 0,
                       f"{what}: region {r.id}: its connection (on_connect), port and cookie",
                       f"{r!r}, connections {self.conns}")
        if r.size == 128 * KiB:
            return Err.DENIED
        if r.size == 192 * KiB:
            raise Deliberate(f"region {r.id} of 192 KiB")
        if not self.check_and_mark(r, what):
            return Err.INTERNAL
        self.accepted += 1
        if r.size == MiB and r.id == 2:
            r.hold()
            self.held = r
        if r.size == MiB and r.id == 3:
            self.keep.append(r.buffer[PAGE:2 * PAGE])
            mv = r.buffer
            self.later.append(lambda: self.check(
                not r.mapped and released(mv),
                "1MiB: region 3: buffer invalid after on_mapped without hold()"))
        return None

    def on_ended(self, r: vsock_shm.Region, why: Any) -> None:
        print(f"pyserver: ended {r} {name(why)}", flush=True)
        self.events.append(("ended", r.size, r.id, why))
        self.ended[name(why)] = self.ended.get(name(why), 0) + 1
        try:
            r.buffer
            gone = False
        except ValueError:
            gone = True
        self.check(gone, f"{label(r.size)}: region {r.id}: no buffer in on_ended")
        if r.size == MiB:
            self.check(why == EndReason.FREED, f"1MiB: region {r.id}: ended FREED",
                       name(why))
            if r.id == 3:
                self.later.append(lambda: self.after_slice_end(r))
            if r.id == 2:
                self.later.append(lambda: self.after_hold_end(r))
            if r.id == 1:
                self.later.append(self.after_a)
        elif r.size == 64 * KiB:
            self.check(why == EndReason.CLOSED, "64KiB: ended CLOSED (no FREE, guest exited)",
                       name(why))
            self.done_b = True
        elif r.size == 128 * KiB:
            self.done_c = True
        elif r.size == 192 * KiB:
            self.done_d = True

    def after_slice_end(self, r: vsock_shm.Region) -> None:
        st = self.srv.stats()
        self.check(st.regions_held == 1,
                   "1MiB: region 3: a live slice keeps its range held after its end",
                   f"regions_held {st.regions_held}")
        self.keep.clear()       # never touched after the end: SIGSEGV

    def after_hold_end(self, r: vsock_shm.Region) -> None:
        st = self.srv.stats()
        self.check(st.regions_held == 1,
                   "1MiB: region 3's range given back once its slice is gone; region 2 held",
                   f"regions_held {st.regions_held}")
        self.check(r.held and r.ended, "1MiB: region 2: held past its end", repr(r))
        self.check(r.release() is True, "1MiB: region 2: release() gives the range back")
        st = self.srv.stats()
        self.check(st.regions_held == 0, "1MiB: regions_held back to 0",
                   f"regions_held {st.regions_held}")

    def after_a(self) -> None:
        ev = [(w, i) for (w, s, i, _d) in self.events if s == MiB and w != "revoked"]
        self.check(ev == [("mapped", 1), ("mapped", 2), ("mapped", 3),
                          ("ended", 3), ("ended", 2), ("ended", 1)],
                   "1MiB: mapped 1, 2, 3, ended 3, 2, 1", f"{ev}")
        self.done_a = True

    # Driving

    def run(self, port: int, timeout: float) -> None:
        kw: dict[str, Any] = {}
        if vsock_shm.HAS_0_2:
            kw = dict(on_connect=self.on_connect, on_disconnect=self.on_disconnect,
                      on_revoked=self.on_revoked)
        self.srv = srv = vsock_shm.Server(
            port, on_mapped=self.on_mapped, on_ended=self.on_ended,
            log=lambda line: print(f"pyserver: library: {line}", flush=True), **kw)
        print(f"pyserver: listening on {port} ({vsock_shm.library_path},"
              f" 0.2: {vsock_shm.HAS_0_2})", flush=True)
        print("pyserver: ready", flush=True)
        sel = None
        if vsock_shm.HAS_0_2:
            sel = selectors.DefaultSelector()
            sel.register(srv, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        dispatches = 0
        while time.monotonic() < deadline:
            try:
                if sel is not None and not self.done_a:
                    if sel.select(1.0):
                        srv.dispatch()
                        dispatches += 1
                else:
                    srv.poll(1.0)
            except Deliberate as e:
                self.exception_seen = True
                self.check("192 KiB" in str(e),
                           "192KiB: on_mapped's exception raised by dispatch()/poll()", repr(e))
            todo, self.later = self.later, []
            for f in todo:
                f()
            if (self.done_a and self.done_b and self.done_c and self.done_d
                    and not self.later and srv.stats().conns_open == 0):
                break
        self.check(self.done_a and self.done_b and self.done_c and self.done_d,
                   "every guest run seen to its end",
                   f"1MiB {self.done_a}, 64KiB {self.done_b}, 128KiB {self.done_c},"
                   f" 192KiB {self.done_d}")
        self.check(self.exception_seen, "192KiB: the exception came out")
        if sel is not None:
            self.check(dispatches > 0, "fileno() in a selector, then dispatch(), served the 1MiB run",
                       f"{dispatches} dispatches")
        self.final_checks()
        srv.close()
        self.check(srv._s is None, "close()")

    def final_checks(self) -> None:
        st = self.srv.stats()
        print(f"pyserver: {st}", flush=True)
        freed = self.ended.get("FREED", 0)
        others = sum(v for k, v in self.ended.items() if k != "FREED")
        self.check(st.regions_mapped == self.accepted == 4,
                   "stats: regions_mapped = regions on_mapped accepted (4)",
                   f"{st.regions_mapped}, accepted {self.accepted}")
        self.check(st.regions_freed == freed and freed >= 3,
                   "stats: regions_freed = on_ended FREED", f"{st.regions_freed}, {self.ended}")
        self.check(st.regions_dropped == others and others >= 1,
                   "stats: regions_dropped = on_ended other reasons", f"{st.regions_dropped}, {self.ended}")
        self.check(st.errors_sent == 2, "stats: errors_sent = the two refusals",
                   f"{st.errors_sent}")
        self.check(st.conns_accepted == 4 and st.conns_open == 0 and st.regions_held == 0,
                   "stats: 4 connections, none open, no range held",
                   f"{st}")
        if vsock_shm.HAS_0_2:
            self.check(len(self.conns) == 4 and sorted(self.conns) == sorted(i for i, _ in self.disconnects)
                       and all(c.peer_cid == 3 for c in self.conns.values()),
                       "on_connect and on_disconnect for each of the 4 connections",
                       f"{self.conns} {self.disconnects}")
            self.check(st.revocations == len(self.revoked),
                       "stats: revocations = on_revoked calls", f"{st.revocations}, {self.revoked}")
            # Each accepted region revoked (FREED, or CLOSED for the one
            # the guest left), and before its end.
            order = [(w, s, i) for (w, s, i, _d) in self.events if w in ("revoked", "ended")
                     and s in (MiB, 64 * KiB)]
            ok = True
            for s, i in [(MiB, 1), (MiB, 2), (MiB, 3), (64 * KiB, 1)]:
                try:
                    ok &= order.index(("revoked", s, i)) < order.index(("ended", s, i))
                except ValueError:
                    ok = False
            reasons = sorted(name(w) for (_s, _i, w) in self.revoked)
            self.check(ok, "on_revoked before on_ended for every accepted region", f"{order}")
            self.check(reasons == ["CLOSED", "FREED", "FREED", "FREED"],
                       "on_revoked reasons: FREED x3 (the guest's FREE), CLOSED (its exit)",
                       f"{self.revoked}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--seed", type=lambda s: int(s, 0), default=0x5EED)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    t = Test(a.tap, a.seed)
    try:
        t.run(a.port, a.timeout)
    except Exception as e:  # noqa: BLE001 - reported as a failed test
        t.check(False, "the server ran without an unexpected exception", repr(e))
        raise
    finally:
        print(f"1..{t.n}", file=t.tap)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
