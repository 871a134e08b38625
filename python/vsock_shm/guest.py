# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The guest side: vsock_shm.Guest wraps libvsock-shm-guest
(<vsock-shm/guest.h>, docs/python.md).

A Guest is a connection to a host server. Guest.share() allocates memory
and shares it, Guest.share_buffer() shares the application's page-aligned
buffer (an mmap), Guest.share_memfd() a range of a memfd; each returns a
GuestRegion once the host mapped it. Every call that talks to the host
blocks until its answer (at most the connection's timeout), with the GIL
released. Events (the host revoked a region, rang its doorbell) wait in the
library until dispatch() or next_event() takes them.

Errors are OSError with the errno of the library and its failure text
(vshm_guest_last_failure(), when the call set it); an ERROR answer of the host is EPROTO, and
Guest.last_error says which code it was.

Buffers: GuestRegion.buffer is a memoryview over the shared memory, valid
until free() (or the Guest's close()), which releases it; free() refuses
(BufferError) while views derived from it (slices, casts, numpy arrays)
still exist, because the library unmaps memory it mapped itself. Memory of
share_buffer() stays the application's: its own views of it stay valid.
Runs as root (the library reads /proc/self/pagemap).
"""
from __future__ import annotations

import ctypes
import errno
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import _glib
from .protocol import (Access, Err, EventType, Feature, RevokeReason, as_enum,
                       VSHM_GUEST_PLAIN, VSHM_SHARE_BUF, VSHM_SHARE_HUGE,
                       VSHM_SHARE_MEMFD)

__all__ = ["Guest", "GuestRegion", "GuestEvent", "RegionStats",
           "VMADDR_CID_HOST"]

VMADDR_CID_HOST = 2
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1
_RW = Access.READ | Access.WRITE


@dataclass(frozen=True)
class RegionStats:
    """What the library measured of a region (struct vshm_region_stats)."""
    region: int         # protocol region id
    grant: int          # from MAPPED
    size: int           # bytes
    page_size: int      # 4096 or 2 MiB
    nr_pages: int       # 4 KiB pages
    nr_extents: int     # runs of guest-contiguous pages
    nr_chunks: int      # GPA_LIST messages sent
    pin_ns: int
    pagemap_ns: int
    share_ns: int       # ALLOC sent to MAPPED received


@dataclass(frozen=True)
class GuestEvent:
    """Something the host told without being asked (struct
    vshm_guest_event)."""
    type: EventType | int
    region_id: int                  # protocol region id
    region: Optional["GuestRegion"]  # if still held (not freed), else None
    reason: RevokeReason | int      # REVOKED: why
    bits: int                       # NOTIFY: the doorbell's bits
    grant: int                      # REVOKED: the host's grant id


def _check_u32(name: str, v: int) -> int:
    if not isinstance(v, int) or not 0 <= v <= _U32:
        raise ValueError(f"{name} {v!r}: not a 32-bit unsigned number")
    return v


def _ms(name: str, v: Optional[int]) -> int:
    if v is None:
        return 0
    if not isinstance(v, int) or not 0 <= v <= 2**31 - 1:
        raise ValueError(f"{name} {v!r}: not 0..2**31-1 milliseconds")
    return v


class GuestRegion:
    """A region shared with the host: id, size, cookie, buffer (a
    memoryview over the memory, valid until free()), revoked(), notify(),
    free(). A context manager: free() at its end."""

    id: int
    size: int
    cookie: int
    ptr: int                # the region's address in this process

    def __init__(self, guest: "Guest", handle: int, kind: str,
                 keep: Any = None) -> None:
        self._guest = guest
        self._r: Optional[int] = handle
        self.kind = kind        # "alloc", "buffer" or "memfd"
        self._keep = keep       # the application's buffer, exported
        lib = _glib.lib
        self.id = int(lib.vshm_region_id(handle))
        self.size = int(lib.vshm_region_size(handle))
        self.ptr = int(lib.vshm_region_ptr(handle))
        fn = _glib.optional("vshm_region_cookie")
        self.cookie = int(fn(handle)) if fn else 0
        self._arr: Any = (ctypes.c_char * self.size).from_address(self.ptr)
        self._mv: Optional[memoryview] = memoryview(self._arr).cast("B")

    def __repr__(self) -> str:
        state = "freed" if self._r is None else "live"
        return (f"<GuestRegion {self.id} {self.kind} {self.size} bytes"
                f" cookie={self.cookie:#x} {state}>")

    def _handle(self) -> int:
        if self._r is None:
            raise ValueError(f"region {self.id} is freed")
        return self._r

    @property
    def freed(self) -> bool:
        return self._r is None

    @property
    def buffer(self) -> memoryview:
        """The region's memory, read and written in place. ValueError after
        free()."""
        if self._mv is None:
            raise ValueError(f"region {self.id} is freed: its buffer is gone")
        return self._mv

    def revoked(self) -> RevokeReason | int:
        """Why the host revoked the region's mapping (RevokeReason), or 0
        while it maps it. The region stays valid until free()."""
        return as_enum(RevokeReason,
                       int(_glib.need("vshm_region_revoked")(self._handle())))

    def notify(self, bits: int) -> None:
        """Rings the host's doorbell of the region (NOTIFY with bits != 0).
        Never answered. OSError EOPNOTSUPP unless the connection agreed on
        Feature.NOTIFY; ENOTCONN if it is broken."""
        fn = _glib.need("vshm_region_notify")
        _check_u32("bits", bits)
        if bits == 0:
            raise ValueError("bits 0: a doorbell rings with at least one bit")
        ret = fn(self._handle(), bits)
        if ret < 0:
            raise self._guest._error(-ret, f"notify(region {self.id})")

    def stats(self) -> RegionStats:
        st = _glib.lib.vshm_region_stats(self._handle()).contents
        return RegionStats(*(int(getattr(st, f[0]))
                             for f in _glib.RegionStatsC._fields_))

    def extents(self) -> list[tuple[int, int]]:
        """The runs of guest-physical pages sent to the host:
        (address, pages), in region order."""
        n = ctypes.c_size_t(0)
        p = _glib.lib.vshm_region_extents(self._handle(), ctypes.byref(n))
        return [(int(p[i].addr), int(p[i].npages)) for i in range(n.value)]

    def gpas(self) -> list[int]:
        """The guest-physical address of every 4 KiB page, read now."""
        n = self.size // 4096
        out = (ctypes.c_uint64 * n)()
        ret = _glib.lib.vshm_region_gpas(self._handle(), out, n)
        if ret < 0:
            raise self._guest._error(-ret, f"gpas(region {self.id})")
        return list(out)

    def _drop_buffer(self) -> None:
        """Releases buffer, or BufferError if views derived from it live
        (then buffer stays as it was)."""
        if self._mv is None:
            return
        self._mv.release()      # BufferError if exported from directly
        self._mv = None
        # self._arr is referenced by self and getrefcount's argument; a view
        # derived from the released one holds one more.
        if sys.getrefcount(self._arr) > 2:
            self._mv = memoryview(self._arr).cast("B")
            raise BufferError(f"region {self.id}: views of its buffer still "
                              "exist (slices, casts, arrays): release them "
                              "before free()")

    def free(self) -> None:
        """Sends FREE and waits for FREED; then the library unpins (and, but
        for share_buffer(), unmaps) the memory. buffer is released first:
        BufferError if views derived from it still exist. OSError EPROTO if
        the host answered ERROR (the region then stays valid: retry, or
        close the Guest), ETIMEDOUT or another errno (the connection is
        broken). Freeing a freed region does nothing."""
        if self._r is None:
            return
        self._drop_buffer()
        before = self._guest._failure_now()
        ret = _glib.lib.vshm_free(self._r)
        if ret < 0:
            self._mv = memoryview(self._arr).cast("B")
            raise self._guest._error(-ret, f"free(region {self.id})", before)
        self._gone()

    def _gone(self) -> None:
        """The library released the region (free, or the Guest's close)."""
        if self._mv is not None:
            try:
                self._mv.release()
            except BufferError:
                pass
            self._mv = None
        self._guest._regions.pop(self._r, None)
        self._r = None
        self._arr = None
        self._keep = None

    def __enter__(self) -> "GuestRegion":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.free()


FillFn = Callable[[memoryview, int], None]


class Guest:
    """A connection to a host server on port (at cid, the host by default).
    Connects at once (blocking): with connect_wait_ms, keeps retrying that
    long while nobody listens yet; timeout_ms is the reply and connect
    timeout (None: the library's 30 s); features are those to offer (None:
    every one the library knows); plain sends no HELLO (an old guest).
    on_event, if given, receives every GuestEvent dispatch() hands out;
    without it, events wait for next_event(). OSError on failure
    (ECONNREFUSED: nobody listened, ETIMEDOUT, EADDRINUSE, EPROTO, ...).
    A context manager: close() at its end."""

    def __init__(self, port: int, cid: int = VMADDR_CID_HOST, *,
                 timeout_ms: Optional[int] = None, connect_wait_ms: int = 0,
                 features: Optional[int] = None, plain: bool = False,
                 max_msg: Optional[int] = None,
                 on_event: Optional[Callable[[GuestEvent], None]] = None) -> None:
        self._g: Optional[int] = None
        self._regions: dict[int, GuestRegion] = {}
        self._exc: Optional[BaseException] = None
        self._cb: Any = None
        _check_u32("cid", cid)
        _check_u32("port", port)
        if port == 0:
            raise ValueError("port 0: give the server's port")
        tmo = _ms("timeout_ms", timeout_ms)
        wait = _ms("connect_wait_ms", connect_wait_ms)
        feat = 0 if features is None else int(features)
        if not 0 <= feat <= _U64:
            raise ValueError(f"features {features!r}: not 64-bit flags")
        connect_opts = _glib.optional("vshm_guest_connect_opts")
        if connect_opts is None:
            if wait or features is not None or plain:
                raise NotImplementedError(f"{_glib.path} is older than 0.2: "
                                          "no vshm_guest_connect_opts()")
            ctypes.set_errno(0)
            g = _glib.lib.vshm_guest_connect(cid, port)
        else:
            o = _glib.GuestOptsC(cid=cid, port=port, timeout_ms=tmo,
                                 connect_wait_ms=wait,
                                 flags=VSHM_GUEST_PLAIN if plain else 0,
                                 features=feat)
            ctypes.set_errno(0)
            g = connect_opts(ctypes.byref(o))
        if not g:
            err = ctypes.get_errno() or 5
            raise OSError(err, f"vsock_shm.Guest: connect to {cid}:{port}: "
                          f"{os.strerror(err)}")
        self._g = g
        self.cid, self.port = cid, port
        try:
            if timeout_ms is not None and connect_opts is None:
                self.set_timeout(timeout_ms)
            if max_msg is not None:
                ret = _glib.lib.vshm_guest_set_max_msg(g, max_msg)
                if ret < 0:
                    raise self._error(-ret, f"max_msg {max_msg}")
            if on_event is not None:
                self._on_event = on_event
                self._cb = _glib.EVENT(self._t_event)
                ret = _glib.need("vshm_guest_set_event_cb")(g, self._cb, None)
                if ret < 0:
                    raise self._error(-ret, "vshm_guest_set_event_cb()")
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        state = "closed" if self._g is None else f"{len(self._regions)} regions"
        return f"<vsock_shm.Guest {self.cid}:{self.port} {state}>"

    def _handle(self) -> int:
        if self._g is None:
            raise ValueError("guest connection closed")
        return self._g

    def _failure_now(self) -> str:
        return self.last_failure if self._g is not None else ""

    def _error(self, err: int, what: str,
               before: Optional[str] = None) -> OSError:
        """OSError for a positive errno, with the library's failure text
        (only if the call changed it, when before is the text it had)."""
        text = self._failure_now()
        msg = f"{what}: {os.strerror(err)}"
        if text and text != before:
            msg += f" ({text})"
        return OSError(err, msg)

    # The connection

    @property
    def features(self) -> Feature:
        """What the host accepted (0 with an older host or plain)."""
        fn = _glib.optional("vshm_guest_features")
        return Feature(int(fn(self._handle())) if fn else 0)

    @property
    def last_error(self) -> Optional[tuple[Err | int, int]]:
        """The last ERROR the host answered: (code, detail), or None."""
        code, detail = ctypes.c_uint32(), ctypes.c_uint32()
        if _glib.lib.vshm_guest_last_error(self._handle(), ctypes.byref(code),
                                           ctypes.byref(detail)) < 0:
            return None
        return as_enum(Err, code.value), detail.value

    @property
    def last_failure(self) -> str:
        """The library's description of the last failure ("" if none)."""
        return _glib.cstr(_glib.lib.vshm_guest_last_failure(self._handle()))

    def set_timeout(self, timeout_ms: int) -> None:
        """The reply timeout, ms > 0."""
        if _ms("timeout_ms", timeout_ms) == 0:
            raise ValueError("timeout_ms 0: give a positive timeout")
        ret = _glib.lib.vshm_guest_set_timeout(self._handle(), timeout_ms)
        if ret < 0:
            raise self._error(-ret, f"timeout {timeout_ms} ms")

    def fileno(self) -> int:
        """The connection's socket, to poll for input (then dispatch());
        do not read, write or close it."""
        fd = _glib.need("vshm_guest_fd")(self._handle())
        if fd < 0:
            raise self._error(-fd, "vshm_guest_fd()")
        return int(fd)

    # Sharing

    def share(self, size: int, huge: bool = False, access: int = _RW,
              cookie: int = 0, fill: Optional[FillFn] = None) -> GuestRegion:
        """Allocates size bytes (a multiple of 4 KiB; of 2 MiB with huge,
        from the kernel's free huge pages), pins and shares them with the
        host, and returns the region once the host mapped it. cookie goes
        to the host with the region (Feature.COOKIE). fill(view, region_id),
        if given, fills the fresh memory before it is shared (the view is
        valid during the call only). Blocks until the host's MAPPED."""
        return self._share_ex("alloc", size, VSHM_SHARE_HUGE if huge else 0,
                              access, cookie, fill)

    def share_buffer(self, buf: Any, access: int = _RW, cookie: int = 0,
                     huge: bool = False,
                     fill: Optional[FillFn] = None) -> GuestRegion:
        """Shares the application's writable buffer buf (an mmap, or a
        memoryview of one: anonymous or shared memory, page-aligned, a
        multiple of 4 KiB; huge: backed by 2 MiB pages). The buffer stays
        exported (an mmap cannot be closed or resized) until free(); the
        library only unpins it then."""
        try:
            mv = memoryview(buf)
        except TypeError:
            raise TypeError(f"share_buffer: {type(buf).__name__} is not a buffer") from None
        if mv.readonly:
            raise TypeError("share_buffer: the buffer is read-only")
        if not mv.contiguous:
            raise ValueError("share_buffer: the buffer is not contiguous")
        size = mv.nbytes
        mv.release()
        if size == 0:
            raise ValueError("share_buffer: the buffer is empty")
        arr = (ctypes.c_char * size).from_buffer(buf)
        return self._share_ex("buffer", size,
                              VSHM_SHARE_BUF | (VSHM_SHARE_HUGE if huge else 0),
                              access, cookie, fill, addr=ctypes.addressof(arr),
                              keep=arr)

    def share_memfd(self, fd: Any, offset: int, size: int, access: int = _RW,
                    cookie: int = 0,
                    fill: Optional[FillFn] = None) -> GuestRegion:
        """Shares size bytes at offset of fd (a memfd or another tmpfs file,
        or a hugetlbfs one: then offset and size are multiples of 2 MiB).
        The library maps the range itself and unmaps it at free(); fd stays
        the caller's (an int or an object with fileno())."""
        memfd = fd if isinstance(fd, int) else fd.fileno()
        if not isinstance(offset, int) or not 0 <= offset <= _U64:
            raise ValueError(f"offset {offset!r}: not a 64-bit offset")
        return self._share_ex("memfd", size, VSHM_SHARE_MEMFD, access, cookie,
                              fill, memfd=memfd, offset=offset)

    def _share_ex(self, kind: str, size: int, flags: int, access: int,
                  cookie: int, fill: Optional[FillFn], addr: int = 0,
                  memfd: int = -1, offset: int = 0,
                  keep: Any = None) -> GuestRegion:
        g = self._handle()
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f"size {size!r}: not a positive number of bytes")
        if not isinstance(cookie, int) or not 0 <= cookie <= _U64:
            raise ValueError(f"cookie {cookie!r}: not a 64-bit number")
        _check_u32("access", int(access))
        failed: list[BaseException] = []

        def t_fill(ptr: int, n: int, rid: int, _arg: Any) -> int:
            arr = (ctypes.c_char * n).from_address(ptr)
            view = memoryview(arr).cast("B")
            try:
                fill(view, rid)  # type: ignore[misc]
            except BaseException as e:
                failed.append(e)
                return -(getattr(e, "errno", None) or errno.ECANCELED)
            finally:
                try:
                    view.release()
                except BufferError:
                    pass
            return 0

        cfill = _glib.FILL(t_fill) if fill is not None else _glib.FILL()
        share_ex = _glib.optional("vshm_share_ex")
        before = self.last_failure
        ctypes.set_errno(0)
        if share_ex is not None:
            a = _glib.ShareArgsC(size=size, flags=flags, access=int(access),
                                 addr=addr or None, memfd=memfd,
                                 offset=offset, cookie=cookie, fill=cfill)
            r = share_ex(g, ctypes.byref(a))
        elif kind == "alloc" and cookie == 0:
            r = _glib.lib.vshm_share_fill(g, size, flags, int(access),
                                          cfill, None)
        else:
            raise NotImplementedError(f"{_glib.path} is older than 0.2: no vshm_share_ex()")
        if not r:
            err = ctypes.get_errno() or 5
            if failed:
                raise failed[0]
            raise self._error(err, f"share({kind}, {size} bytes)", before)
        region = GuestRegion(self, r, kind, keep)
        self._regions[r] = region
        return region

    @property
    def regions(self) -> list[GuestRegion]:
        """The regions shared and not freed, oldest first."""
        return list(self._regions.values())

    # Events

    def _event(self, ev: _glib.GuestEventC) -> GuestEvent:
        t = as_enum(EventType, ev.type)
        return GuestEvent(type=t, region_id=int(ev.region),
                          region=self._regions.get(ev.r) if ev.r else None,
                          reason=as_enum(RevokeReason, ev.reason) if ev.reason else 0,
                          bits=int(ev.bits), grant=int(ev.grant))

    def _t_event(self, _g: Any, evp: Any, _arg: Any) -> None:
        try:
            self._on_event(self._event(evp.contents))
        except BaseException as e:
            if self._exc is None:
                self._exc = e

    def dispatch(self) -> int:
        """Reads what the socket holds now (never waits) and hands every
        queued event to on_event; without on_event, returns how many wait
        for next_event(). OSError ECONNRESET (the host closed), EBADMSG,
        EPROTO, ENOTCONN: the connection is broken. An exception of
        on_event comes out here, after the others were delivered."""
        before = self._failure_now()
        ret = _glib.need("vshm_guest_dispatch")(self._handle())
        exc, self._exc = self._exc, None
        if exc is not None:
            raise exc
        if ret < 0:
            raise self._error(-ret, "dispatch()", before)
        return int(ret)

    def next_event(self) -> Optional[GuestEvent]:
        """The oldest queued event, after reading what the socket holds
        now (never waits); None if there is none."""
        ev = _glib.GuestEventC()
        before = self._failure_now()
        ret = _glib.need("vshm_guest_next_event")(self._handle(), ctypes.byref(ev))
        if ret < 0:
            raise self._error(-ret, "next_event()", before)
        return self._event(ev) if ret else None

    # The end

    def close(self) -> None:
        """Ends the connection (waiting up to the timeout for the host to
        see it) and releases every region still held: their buffers go.
        Closing twice does nothing."""
        g, self._g = self._g, None
        if g is None:
            return
        for region in list(self._regions.values()):
            region._gone()
        self._regions.clear()
        ret = _glib.lib.vshm_guest_close(g)
        if ret < 0:
            raise OSError(-ret, f"vsock_shm.Guest.close(): {os.strerror(-ret)}")

    def __enter__(self) -> "Guest":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
