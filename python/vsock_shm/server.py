# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The host server: vsock_shm.Server wraps libvsock-shm-server
(<vsock-shm/server.h>, docs/python.md).

A Server listens on a vsock port, runs the protocol with every guest that
connects, maps each region they share through the mapper device, and calls
the application's Python callables from the thread that drives it
(poll(), run(), dispatch(), close()). Those callables receive a Region.

Buffers: Region.buffer is a memoryview over the mapping. It is valid during
on_mapped only, unless the callback calls region.hold(): then until
region.release() or the region's revocation or end, whichever comes first
(after that, using it raises ValueError, never a fault). Views derived from
it (slices, casts, numpy arrays) cannot be invalidated: the bindings keep
the region's address range reserved after its end for as long as any of
them lives (an access then raises SIGSEGV instead of reading memory mapped
there later), and give it back at the first poll()/dispatch() after they
are gone. While the region lives, the host may revoke its mapping at any
time: an access through any of these raises SIGBUS, which kills the
interpreter. Copy what you need in on_mapped (bytes(region.buffer)) to be
safe from that.
"""
from __future__ import annotations

import ctypes
import enum
import math
import sys
import threading
import warnings
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

from . import _lib
from .protocol import (Access, EndReason, Err, Feature, RegionState,
                       RevokeReason, as_enum, VSHM_HOLD)

__all__ = ["Server", "Region", "MapInfo", "Connection", "ServerStats"]


@dataclass(frozen=True)
class MapInfo:
    """What the mapper reported about a mapped region
    (struct vshm_map_info)."""
    size: int       # bytes mapped
    nr_pages: int   # 4 KiB pages in the grant
    access: Access  # what the guest granted
    pin_ns: int     # module: translate + pin time
    nr_runs: int    # runs of host-contiguous pages
    map_ns: int     # server: MAP_GRANT ioctl + mmap time


@dataclass(frozen=True)
class Connection:
    """A guest's connection (struct vshm_conn_info, library 0.2)."""
    id: int             # unique within the server, never reused
    peer_cid: int
    peer_port: int
    features: Feature   # agreed with HELLO (0 at on_connect)


@dataclass(frozen=True)
class ServerStats:
    """The server's counters (struct vshm_server_stats). The 0.2 counters
    are 0 with an older library."""
    conns_accepted: int
    conns_refused: int
    conns_open: int
    regions_mapped: int
    regions_freed: int       # FREED sent
    regions_dropped: int     # live at disconnect
    errors_sent: int
    unmap_errors: int
    regions_held: int        # ended, range held (Region.hold() or views)
    revocations: int = 0     # 0.2: mapped regions revoked (on_revoked)
    revoked_sent: int = 0    # 0.2: REVOKED messages sent
    notifies_in: int = 0     # 0.2: NOTIFYs given to on_notify
    notifies_out: int = 0    # 0.2: NOTIFYs sent (Server.notify)
    notifies_dropped: int = 0  # 0.2: NOTIFYs from guests dropped


def _name(v: object) -> str:
    """An enum member's name, or a value the enum lacks as a number."""
    return v.name if isinstance(v, enum.Enum) and v.name else str(v)


class Region:
    """A region a guest shares, as the callbacks see it. The same object is
    passed to every callback about that region (on_mapped, on_notify,
    on_revoked, on_ended); its fields are refreshed for each. Fields are
    plain copies and stay readable forever; only `buffer` has a lifetime.
    """

    id: int                 # the guest's region id (per connection)
    peer_cid: int           # the guest's CID
    state: RegionState | int
    size: int               # ALLOC: bytes
    page_size: int          # ALLOC: the guest's page size
    access: Access          # ALLOC: asked
    nr_pages: int           # ALLOC: 4 KiB pages
    pages_received: int
    chunks: int
    extents: int
    grant: int              # 0 until the first HPA_LIST
    addr: Optional[int]     # where it is (was) mapped; None if never
    info: Optional[MapInfo]  # mapped: from the mapper
    # 0.2 (None with an older library):
    cookie: Optional[int]   # ALLOC's cookie (VSHM_FEAT_COOKIE), else 0
    conn_id: Optional[int]  # its connection (Connection.id)
    peer_port: Optional[int]
    revoked: RevokeReason | int | None  # why its mapping was revoked, or 0
    # Set by the bindings:
    end_reason: EndReason | int | None  # None until on_ended

    def __init__(self, server: "Server", key: int) -> None:
        self._server = server
        self._key = key             # address of the C structure
        self._arr: Any = None       # ctypes array over the mapping
        self._mv: Optional[memoryview] = None
        self._held = False          # hold() asked
        self._range_held = False    # the C side holds the range for us
        self._why_invalid = "the region is not mapped"
        self.end_reason = None

    # Refreshed from the C structure in every callback.
    def _update(self, r: _lib.SessionRegionC) -> None:
        self.id = r.id
        self.peer_cid = r.peer_cid
        self.state = as_enum(RegionState, r.state)
        self.size = r.size
        self.page_size = r.page_size
        self.access = Access(r.access & 3)
        self.nr_pages = r.nr_pages
        self.pages_received = r.pages_received
        self.chunks = r.chunks
        self.extents = r.extents
        self.grant = r.grant
        self.addr = r.addr
        i = r.info
        self.info = (MapInfo(i.size, i.nr_pages, Access(i.access & 3),
                             i.pin_ns, i.nr_runs, i.map_ns)
                     if r.addr else None)
        if _lib.HAS_0_2:
            self.cookie = r.cookie
            self.conn_id = r.conn_id
            self.peer_port = r.peer_port
            self.revoked = as_enum(RevokeReason, r.revoked) if r.revoked else 0
        else:
            self.cookie = self.conn_id = self.peer_port = self.revoked = None

    def _open_buffer(self, ptr: int) -> None:
        assert self.info is not None
        self._arr = (ctypes.c_ubyte * self.info.size).from_address(ptr)
        raw = memoryview(self._arr)
        mv = raw.cast("B")
        raw.release()
        if not self.info.access & Access.WRITE:
            ro = mv.toreadonly()
            mv.release()
            mv = ro
        self._mv = mv

    def _close_buffer(self, why: str) -> None:
        """Our memoryview is released (its users get ValueError)."""
        self._why_invalid = why
        if self._mv is not None:
            try:
                self._mv.release()
                self._mv = None
            except BufferError:
                # Someone holds a buffer export of it (numpy, ...): it
                # stays, and counts as a view below.
                pass

    def _views_remain(self) -> bool:
        """True while any Python object still reaches the mapping: our
        memoryview (unreleasable), or views derived from it."""
        if self._arr is None:
            return False
        if self._mv is not None:
            try:
                self._mv.release()
                self._mv = None
            except BufferError:
                return True
        # Our attribute and getrefcount's argument; anything more is a
        # memoryview (or buffer) derived from ours.
        if sys.getrefcount(self._arr) > 2:
            return True
        self._arr = None
        return False

    @property
    def buffer(self) -> memoryview:
        """The mapping, info.size bytes, read-only unless the guest granted
        write access. Valid during on_mapped, or until release(),
        revocation or end after hold(); ValueError otherwise."""
        if self._mv is None:
            raise ValueError(f"region {self.id}: no buffer: {self._why_invalid}")
        return self._mv

    @property
    def mapped(self) -> bool:
        """The buffer is usable now."""
        return self._mv is not None

    @property
    def ended(self) -> bool:
        return self.end_reason is not None

    @property
    def held(self) -> bool:
        """hold() was called and release() not yet."""
        return self._held

    def hold(self) -> None:
        """Keeps the buffer valid after the current callback, and the
        region's address range reserved after its end, until release().
        Call it in on_mapped (later, the buffer is gone already; the range
        is still held if called before the end)."""
        if self.ended and not self._range_held:
            raise ValueError(f"region {self.id} ended: nothing to hold")
        self._held = True

    def release(self) -> bool:
        """Ends hold(): the buffer is invalidated (ValueError from then on)
        and, once the region ended, its range is given back. Does not
        block. Returns True if the range was given back now (or needs no
        giving back), False if views derived from the buffer still live:
        then it is given back at the first poll()/dispatch() after they are
        gone. May be called from any thread. OSError if the library fails
        to unmap."""
        self._held = False
        self._close_buffer("released")
        return self._server._try_give_back(self)

    def __repr__(self) -> str:
        extra = ""
        if self.conn_id is not None:
            extra = f" conn={self.conn_id} port={self.peer_port} cookie={self.cookie:#x}"
        return (f"<Region {self.id} cid={self.peer_cid}{extra} size={self.size}"
                f" access={self.access!r} state={_name(self.state)}"
                f"{' ended=' + _name(self.end_reason) if self.ended else ''}"
                f"{' revoked=' + _name(self.revoked) if self.revoked else ''}>")


OnMapped = Callable[[Region], Optional[int]]
OnEnded = Callable[[Region, "EndReason | int"], None]
OnRevoked = Callable[[Region, "RevokeReason | int"], None]
OnNotify = Callable[[Region, int], None]
OnConnect = Callable[[Connection], Optional[bool]]
OnDisconnect = Callable[[Connection, "EndReason | int"], None]
Log = Callable[[str], None]


class Server:
    """A vsock-shm host server on one vsock port (struct vshm_server).

    Callbacks (each optional), run by the thread in poll(), run(),
    dispatch() or close():
      on_mapped(region) -> None | int: the region is mapped, the guest not
          yet answered. Return None or 0 to accept; an Err (positive) to
          refuse it with that code. An exception refuses it with
          Err.INTERNAL and is raised again by the call that ran it.
      on_ended(region, reason): every region that ends, mapped or not,
          once (EndReason).
      on_revoked(region, reason): (library 0.2) the host revoked a mapped
          region (RevokeReason); its buffer is already invalidated.
      on_notify(region, bits): (0.2) the guest rang the region's doorbell.
      on_connect(conn) -> None | bool: (0.2) a connection; False refuses it.
      on_disconnect(conn, reason): (0.2) a connection let in ended.
      log(line): the library's log lines (default: its stderr).
    An exception in any callback is raised by poll()/run()/dispatch()/
    close() once the library returns (the first one; others as notes).

    Use one thread to drive a server; stop() and Region.release() may be
    called from any thread, and notify() from any thread while open.
    """

    def __init__(self, port: int, *,
                 on_mapped: Optional[OnMapped] = None,
                 on_ended: Optional[OnEnded] = None,
                 on_revoked: Optional[OnRevoked] = None,
                 on_notify: Optional[OnNotify] = None,
                 on_connect: Optional[OnConnect] = None,
                 on_disconnect: Optional[OnDisconnect] = None,
                 log: Optional[Log] = None,
                 max_conns: int = 0, max_region_size: int = 0,
                 max_regions: int = 0, sock_buf: int = 0,
                 mapper_path: Optional[str] = None) -> None:
        """Opens the mapper device and listens on port (any CID); does not
        block. Zero limits mean the library's defaults. OSError with the
        errno of vshm_server_new() on failure (ENOENT: no mapper device,
        EACCES: not allowed to open it, EINVAL: port 0, ...)."""
        self._s: Optional[int] = None
        self._regions: dict[int, Region] = {}
        self._deferred: list[Region] = []   # ended, range held, views live
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._in_call = False
        self._stopping = False
        self._user = dict(on_mapped=on_mapped, on_ended=on_ended,
                          on_revoked=on_revoked, on_notify=on_notify,
                          on_connect=on_connect, on_disconnect=on_disconnect,
                          log=log)
        later = [k for k in ("on_revoked", "on_notify", "on_connect",
                             "on_disconnect") if self._user[k] is not None]
        if later and not _lib.HAS_0_2:
            raise NotImplementedError(
                f"{_lib.path} is older than 0.2: no {', '.join(later)}")
        cfg = _lib.ServerCfgC()
        cfg.port = port
        cfg.max_conns = max_conns
        cfg.max_region_size = max_region_size
        cfg.max_regions = max_regions
        cfg.sock_buf = sock_buf
        self._mapper_path = mapper_path.encode() if mapper_path else None
        cfg.mapper_path = self._mapper_path
        # The trampolines live as long as self: the library calls them
        # until vshm_server_free() returns.
        self._cbs: dict[str, Any] = {
            # on_mapped and on_ended are always set: the bindings track
            # every region's buffer and range.
            "on_mapped": _lib.ON_MAPPED(self._t_mapped),
            "on_ended": _lib.ON_ENDED(self._t_ended),
        }
        if log is not None:
            self._cbs["log"] = _lib.LOG(self._t_log)
        if _lib.HAS_0_2:
            # on_revoked too: a revoked region's buffer must go.
            self._cbs["on_revoked"] = _lib.ON_REVOKED(self._t_revoked)
            if on_notify is not None:
                self._cbs["on_notify"] = _lib.ON_NOTIFY(self._t_notify)
            if on_connect is not None:
                self._cbs["on_connect"] = _lib.ON_CONNECT(self._t_connect)
            if on_disconnect is not None:
                self._cbs["on_disconnect"] = _lib.ON_DISCONNECT(self._t_disconnect)
        for name, cb in self._cbs.items():
            setattr(cfg, name, cb)
        if not 0 < port <= 0xFFFFFFFF:
            raise _lib.errno_error(22, f"vsock port {port}")
        ctypes.set_errno(0)
        s = _lib.lib.vshm_server_new(ctypes.byref(cfg))
        if not s:
            err = ctypes.get_errno() or 5
            self._raise_pending()
            raise _lib.errno_error(err, f"vshm_server_new(port {port})")
        self._s = s
        self.port = port
        if self._errors:        # the log callback raised
            self.close()

    # The calls that drive the server.

    def _drive(self, what: str, fn: Any, *args: Any) -> int:
        if self._s is None:
            raise ValueError("server closed")
        if self._in_call:
            raise RuntimeError(f"Server.{what}() called from a callback")
        self._in_call = True
        try:
            ret = fn(self._s, *args)
        finally:
            self._in_call = False
        self._give_back_deferred()
        self._raise_pending()
        if ret < 0:
            raise _lib.errno_error(-ret, f"Server.{what}()")
        return ret

    def poll(self, timeout: Optional[float] = None) -> None:
        """Blocks up to timeout seconds (None: until something happens) for
        a connection, a message or a revocation, then serves what is ready,
        running the callbacks. A signal ends the wait early (Python then
        runs its handler: KeyboardInterrupt on Ctrl-C). OSError if the
        wait fails."""
        ms = -1 if timeout is None else max(0, math.ceil(timeout * 1000))
        self._drive("poll", _lib.lib.vshm_server_poll, min(ms, 2**31 - 1))

    def run(self, interval: float = 1.0) -> None:
        """Serves (poll()) until stop() is called, from a callback, a signal
        handler or another thread; stop() is seen within interval
        seconds."""
        self._stopping = False
        while not self._stopping:
            self.poll(interval)

    def stop(self) -> None:
        """Makes run() return. Does not block; any thread."""
        self._stopping = True
        s = self._s
        if s is not None:
            _lib.lib.vshm_server_stop(s)

    def fileno(self) -> int:
        """A file descriptor that is readable while the server has
        something to serve (library 0.2): give it to select/selectors/
        asyncio's loop.add_reader and call dispatch() when it is. Owned by
        the server: do not read or close it."""
        fn = _lib.optional("vshm_server_fd")
        if fn is None:
            raise NotImplementedError(f"{_lib.path} is older than 0.2: no vshm_server_fd()")
        if self._s is None:
            raise ValueError("server closed")
        fd = fn(self._s)
        if fd < 0:
            raise _lib.errno_error(-fd, "vshm_server_fd()")
        return fd

    def dispatch(self) -> None:
        """Serves what is ready now, running the callbacks; never waits
        (library 0.2). Call it when fileno() is readable."""
        fn = _lib.optional("vshm_server_dispatch")
        if fn is None:
            raise NotImplementedError(f"{_lib.path} is older than 0.2: no vshm_server_dispatch()")
        self._drive("dispatch", fn)

    def notify(self, region: Region, bits: int) -> None:
        """Rings the guest's doorbell for region (mapped, answered MAPPED,
        not revoked; the guest agreed VSHM_FEAT_NOTIFY); library 0.2.
        Never blocks. OSError: ENOENT (no such region or connection now),
        EOPNOTSUPP (not agreed), EAGAIN (the guest does not read), EPIPE or
        ECONNRESET (its connection is ending), EINVAL (bits 0)."""
        fn = _lib.optional("vshm_server_notify")
        if fn is None:
            raise NotImplementedError(f"{_lib.path} is older than 0.2: no vshm_server_notify()")
        if self._s is None:
            raise ValueError("server closed")
        ret = fn(self._s, region.conn_id or 0, region.id, bits)
        if ret < 0:
            raise _lib.errno_error(-ret, f"Server.notify(region {region.id})")

    def stats(self) -> ServerStats:
        """The counters, now. Does not block."""
        if self._s is None:
            raise ValueError("server closed")
        st = _lib.ServerStatsC()
        _lib.lib.vshm_server_get_stats(self._s, ctypes.byref(st))
        names = [f.name for f in fields(ServerStats)]
        return ServerStats(**{n: getattr(st, n) for n in names})

    def regions(self) -> list[Region]:
        """The regions that have not ended yet."""
        return list(self._regions.values())

    def close(self) -> None:
        """Ends every connection (each region left gets on_ended with
        EndReason.SHUTDOWN), gives back every range, frees the server.
        Ranges still reached by views are given back too (the server
        cannot outlive close()): ResourceWarning, and an access through
        such a view may then reach whatever is mapped there later."""
        s = self._s
        if s is None:
            return
        if self._in_call:
            raise RuntimeError("Server.close() called from a callback")
        self._in_call = True
        try:
            _lib.lib.vshm_server_free(s)
        finally:
            self._in_call = False
            self._s = None
        with self._lock:
            left = [r for r in self._deferred if r._views_remain()]
            self._deferred.clear()
        if left:
            warnings.warn(f"vsock_shm: server closed while views of regions "
                          f"{[r.id for r in left]} live: their ranges are "
                          f"given back anyway", ResourceWarning, stacklevel=2)
        self._raise_pending()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_s", None) is not None:
            warnings.warn("vsock_shm.Server not closed", ResourceWarning,
                          source=self)
            try:
                self.close()
            except Exception:
                pass

    # Ranges held for Python.

    def _try_give_back(self, r: Region) -> bool:
        with self._lock:
            if not r._range_held:
                return True
            if r._held or r._views_remain():
                if not r._held and r not in self._deferred:
                    self._deferred.append(r)
                return False
            r._range_held = False
            if r in self._deferred:
                self._deferred.remove(r)
            s = self._s
        if s is None:
            return True         # vshm_server_free() gave it back
        ret = _lib.lib.vshm_server_release(s, r.addr)
        if ret < 0:
            raise _lib.errno_error(-ret, f"vshm_server_release(region {r.id})")
        return True

    def _give_back_deferred(self) -> None:
        with self._lock:
            todo = list(self._deferred)
        for r in todo:
            self._try_give_back(r)

    # Trampolines: called by the library, in the driving thread.

    def _fail(self, e: BaseException) -> None:
        self._errors.append(e)

    def _raise_pending(self) -> None:
        if not self._errors:
            return
        first, rest = self._errors[0], self._errors[1:]
        self._errors = []
        for e in rest:
            first.add_note(f"also raised in a callback: {e!r}")
        raise first

    def _region(self, rp: Any) -> Region:
        key = ctypes.cast(rp, ctypes.c_void_p).value or 0
        reg = self._regions.get(key)
        if reg is None:
            reg = self._regions[key] = Region(self, key)
        reg._update(rp.contents)
        return reg

    def _t_mapped(self, _arg: Any, rp: Any) -> int:
        ret = 0
        reg = None
        try:
            reg = self._region(rp)
            ptr = rp.contents.ptr
            if ptr and reg.info is not None:
                reg._open_buffer(ptr)
            cb = self._user["on_mapped"]
            if cb is not None:
                ans = cb(reg)
                ret = int(ans) if ans is not None else 0
                if ret < 0 or ret > 0x7FFFFFFF:
                    raise ValueError(f"on_mapped answered {ans!r}: not an Err")
        except BaseException as e:
            self._fail(e)
            ret = int(Err.INTERNAL)
        if reg is not None:
            if ret:
                reg._close_buffer("on_mapped refused the region")
            elif not reg._held:
                reg._close_buffer("on_mapped returned without hold()")
        return ret

    def _t_ended(self, _arg: Any, rp: Any, why: int) -> int:
        try:
            key = ctypes.cast(rp, ctypes.c_void_p).value or 0
            reg = self._region(rp)
            self._regions.pop(key, None)
            reg.end_reason = as_enum(EndReason, why)
            reg._close_buffer(f"the region ended ({_name(reg.end_reason)})")
        except BaseException as e:
            self._fail(e)
            return 0
        try:
            cb = self._user["on_ended"]
            if cb is not None:
                cb(reg, reg.end_reason)
        except BaseException as e:
            self._fail(e)
        # Whatever the callback did, a range Python still reaches is kept.
        with self._lock:
            hold = bool(reg.addr) and (reg._held or reg._views_remain())
            if hold:
                reg._range_held = True
                if not reg._held:
                    self._deferred.append(reg)
        return VSHM_HOLD if hold else 0

    def _t_revoked(self, _arg: Any, rp: Any, why: int) -> None:
        try:
            reg = self._region(rp)
            reason = as_enum(RevokeReason, why)
            reg._close_buffer(f"the host revoked the region ({_name(reason)})")
            cb = self._user["on_revoked"]
            if cb is not None:
                cb(reg, reason)
        except BaseException as e:
            self._fail(e)

    def _t_notify(self, _arg: Any, rp: Any, bits: int) -> None:
        try:
            cb = self._user["on_notify"]
            if cb is not None:
                cb(self._region(rp), bits)
        except BaseException as e:
            self._fail(e)

    @staticmethod
    def _conn(cp: Any) -> Connection:
        c = cp.contents
        return Connection(c.id, c.peer_cid, c.peer_port, Feature(c.features & 7))

    def _t_connect(self, _arg: Any, cp: Any) -> int:
        try:
            cb = self._user["on_connect"]
            if cb is not None and cb(self._conn(cp)) is False:
                return 1
            return 0
        except BaseException as e:
            self._fail(e)
            return 1

    def _t_disconnect(self, _arg: Any, cp: Any, why: int) -> None:
        try:
            cb = self._user["on_disconnect"]
            if cb is not None:
                cb(self._conn(cp), as_enum(EndReason, why))
        except BaseException as e:
            self._fail(e)

    def _t_log(self, _arg: Any, line: bytes) -> None:
        try:
            cb = self._user["log"]
            if cb is not None:
                cb(_lib.cstr(line))
        except BaseException as e:
            self._fail(e)
