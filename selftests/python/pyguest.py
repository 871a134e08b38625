#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The Python guest of the lab (selftests/python/run.sh): runs in an L2
guest booted with scripts/lab/l2 --python, with vsock_shm.Guest over the
guest library, against two hosts in L1:

  SPORT  build/host/vshm-server: it checks the guest's pattern
         (userspace/lib/pattern.h: the word at offset off is
         seed ^ (region << 48) ^ off), marks the first word of every page
         of a writable region, and refuses a region whose pattern is wrong
         with VSHM_E_DENIED. Shared here: memory of the library with a
         cookie, a range of a memfd (the host's marks seen through a
         mapping of the memfd of our own too), an mmap of ours, a
         read-only region (not marked), one left unfilled (refused).
  NPORT  selftests/python/pynotify.py, a server written with the bindings:
         it rings the doorbell of every region it mapped (bits 0x5) and
         answers a guest's doorbell with its bits shifted left by 4. The
         guest takes the first through dispatch() with an on_event
         callback on one connection and through next_event() on another.

TAP on stdout (ok N NAME); exit status 0 when every check passed.

    pyguest.py SPORT NPORT [SEED]
"""
from __future__ import annotations

import errno
import mmap
import os
import select
import sys
import time
import traceback
from typing import Any, Callable

import vsock_shm
from vsock_shm import Access, Err, EventType, Feature, Guest

KiB = 1 << 10
PAGE = 4096
MASK = (1 << 64) - 1
COOKIE = 0xC00C1E


def pattern(size: int, seed: int, rid: int) -> bytes:
    """userspace/lib/pattern.c's fill: little-endian words
    seed ^ (rid << 48) ^ off."""
    n = size // 8
    offs = b"".join(off.to_bytes(8, "little") for off in range(0, size, 8))
    mask = ((seed ^ (rid << 48)) & MASK).to_bytes(8, "little") * n
    x = int.from_bytes(offs, "little") ^ int.from_bytes(mask, "little")
    return x.to_bytes(size, "little")


def marked(size: int, seed: int, rid: int) -> bytes:
    """The pattern as the host leaves it: the first word of each page
    complemented (vshm_pattern_mark())."""
    b = bytearray(pattern(size, seed, rid))
    for off in range(0, size, PAGE):
        w = int.from_bytes(b[off:off + 8], "little")
        b[off:off + 8] = (~w & MASK).to_bytes(8, "little")
    return bytes(b)


class Tap:
    def __init__(self) -> None:
        self.n = 0
        self.failed = 0

    def check(self, ok: bool, name: str, diag: str = "") -> bool:
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} {name}", flush=True)
        if diag and not ok:
            for ln in diag.splitlines():
                print(f"# {ln}", flush=True)
        return ok

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        """ok if fn returns something true without raising."""
        try:
            res = fn()
        except Exception:
            self.check(False, name, traceback.format_exc())
            return None
        self.check(bool(res), name, f"returned {res!r}")
        return res


def wait_readable(g: Guest, seconds: float) -> bool:
    r, _, _ = select.select([g.fileno()], [], [], seconds)
    return bool(r)


def main() -> int:
    sport, nport = int(sys.argv[1]), int(sys.argv[2])
    seed = int(sys.argv[3], 0) if len(sys.argv) > 3 else 0x5eed
    t = Tap()
    t.check(vsock_shm.GUEST_ERROR is None and vsock_shm.GUEST_HAS_0_2,
            "import_finds_the_guest_library_0_2",
            f"{vsock_shm.GUEST_ERROR}")
    print(f"# guest library {vsock_shm.guest_library_path}, python {sys.version.split()[0]}")

    def fill(view: memoryview, rid: int) -> None:
        view[:] = pattern(len(view), seed, rid)

    # Nobody serves NPORT + 8: refused, after connect_wait_ms of retries.
    def refused() -> bool:
        start = time.monotonic()
        try:
            Guest(nport + 8, connect_wait_ms=600)
        except OSError as e:
            took = time.monotonic() - start
            print(f"# {e} after {took:.2f} s")
            return e.errno in (errno.ECONNREFUSED, errno.ECONNRESET) and took >= 0.55
        return False
    t.step("connect_to_nobody_refused_after_connect_wait", refused)

    # 1. Against vshm-server.
    try:
        g = Guest(sport, connect_wait_ms=60000, timeout_ms=60000)
    except OSError as e:
        t.check(False, "connects_to_vshm_server", str(e))
        print(f"1..{t.n}")
        return 1
    t.check(g.features == Feature.REVOKED | Feature.COOKIE | Feature.NOTIFY,
            "connects_to_vshm_server_every_feature", repr(g.features))

    def alloc_with_cookie() -> bool:
        r = g.share(64 * KiB, cookie=COOKIE, fill=fill)
        st = r.stats()
        ok = (r.cookie == COOKIE and r.kind == "alloc" and r.size == 64 * KiB
              and st.region == r.id and st.size == r.size and st.nr_pages == 16
              and bytes(r.buffer) == marked(r.size, seed, r.id)
              and r.revoked() == 0 and sum(n for _, n in r.extents()) == 16)
        print(f"# {r} {st}")
        r.free()
        return ok and r.freed
    t.step("share_64KiB_cookie_filled_checked_marked_freed", alloc_with_cookie)

    def memfd() -> bool:
        fd = os.memfd_create("pyguest")
        try:
            os.ftruncate(fd, 256 * KiB)
            r = g.share_memfd(fd, 64 * KiB, 128 * KiB, fill=fill, cookie=2)
            want = marked(128 * KiB, seed, r.id)
            ok = r.kind == "memfd" and bytes(r.buffer) == want
            # The same pages through a mapping of our own.
            with mmap.mmap(fd, 256 * KiB) as m:
                ok = ok and m[64 * KiB:192 * KiB] == want and m[:PAGE] == bytes(PAGE)
            r.free()
            # The memfd stays ours, with what the host wrote.
            ok = ok and os.pread(fd, 8, 64 * KiB) == want[:8]
        finally:
            os.close(fd)
        return ok
    t.step("share_memfd_range_marks_seen_through_own_mapping_freed", memfd)

    def buffer() -> bool:
        m = mmap.mmap(-1, 64 * KiB)
        r = g.share_buffer(m, fill=fill)
        ok = r.kind == "buffer" and m[:] == marked(64 * KiB, seed, r.id)
        try:
            m.close()
            ok = False          # exported while shared: must fail
        except BufferError:
            pass
        r.free()
        m[0:4] = b"mine"        # still ours after free
        m.close()
        return ok
    t.step("share_buffer_mmap_marked_in_place_freed_then_closed", buffer)

    def read_only() -> bool:
        r = g.share(32 * KiB, access=Access.READ, fill=fill)
        got, want = bytes(r.buffer), pattern(32 * KiB, seed, r.id)
        ok = got == want
        if not ok:
            off = next(i for i in range(0, len(want), 8) if got[i:i + 8] != want[i:i + 8])
            print(f"# {r}: word at {off:#x}: {got[off:off + 8].hex()}, want "
                  f"{want[off:off + 8].hex()}; marked everywhere: "
                  f"{got == marked(32 * KiB, seed, r.id)}")
        r.free()
        return ok
    t.step("share_read_only_checked_not_marked", read_only)

    def unfilled() -> bool:
        try:
            g.share(16 * KiB)
        except OSError as e:
            print(f"# {e}")
            return (e.errno == errno.EPROTO and g.last_error is not None
                    and g.last_error[0] == Err.DENIED
                    and "VSHM_E_DENIED" in str(e))
        return False
    t.step("share_unfilled_refused_denied_as_eproto", unfilled)

    def fill_raises() -> bool:
        def bad(view: memoryview, rid: int) -> None:
            raise KeyError("from fill")
        try:
            g.share(16 * KiB, fill=bad)
        except KeyError:
            return not g.regions
        return False
    t.step("fill_exception_comes_out_nothing_shared", fill_raises)

    def views_block_free() -> bool:
        with g.share(16 * KiB, fill=fill) as r:
            part = r.buffer[:PAGE]
            try:
                r.free()
                return False
            except BufferError:
                pass
            ok = not r.freed and part[8] == pattern(16, seed, r.id)[8]
            part.release()
        return ok and r.freed
    t.step("free_refused_while_a_view_lives_then_freed", views_block_free)
    t.step("no_events_from_vshm_server",
           lambda: g.dispatch() == 0 and g.next_event() is None)
    g.close()
    t.check(not g.regions and "closed" in repr(g), "closed")

    # 2. Doorbells, against pynotify.py.
    events: list[vsock_shm.GuestEvent] = []

    def with_callback() -> bool:
        with Guest(nport, connect_wait_ms=60000, on_event=events.append) as g2:
            r = g2.share(16 * KiB, cookie=7)
            deadline = time.monotonic() + 60
            # The library may have queued it already (while share() waited
            # for MAPPED): dispatch first, then wait for the socket.
            while time.monotonic() < deadline:
                g2.dispatch()
                if events:
                    break
                wait_readable(g2, 1.0)
            print(f"# events {events}")
            ok = (len(events) == 1 and events[0].type == EventType.NOTIFY
                  and events[0].region is r and events[0].region_id == r.id
                  and events[0].bits == 0x5)
            r.free()
            return ok
    t.step("notify_from_host_through_dispatch_on_event", with_callback)

    def with_next_event() -> bool:
        with Guest(nport, connect_wait_ms=60000) as g3:
            r = g3.share(16 * KiB, cookie=8)
            got = []
            deadline = time.monotonic() + 60
            while len(got) < 2 and time.monotonic() < deadline:
                while (ev := g3.next_event()) is not None:
                    got.append(ev)
                    if ev.bits == 0x5:
                        r.notify(0x3)   # answered with 0x30
                if len(got) < 2:
                    wait_readable(g3, 1.0)
            print(f"# events {got}")
            ok = ([(e.type, e.region_id, e.bits) for e in got]
                  == [(EventType.NOTIFY, r.id, 0x5), (EventType.NOTIFY, r.id, 0x30)]
                  and all(e.region is r for e in got))
            r.free()
            return ok
    t.step("notify_both_ways_through_next_event", with_next_event)

    print(f"1..{t.n}")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
