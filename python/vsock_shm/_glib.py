# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Loading libvsock-shm-guest.so.0 and the ctypes mirrors of the public
structures of <vsock-shm/guest.h>. Internal: use vsock_shm.Guest.

The library is looked for as _load.py says ($VSOCK_SHM_LIBDIR, the build
tree, the system); importing this module raises ImportError without it.

Each mirror below must match the C structure field for field:
python/tests/test_layout.py compiles a program against the headers and
compares sizeof/offsetof of every field listed here.
"""
from __future__ import annotations

from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_size_t,
                    c_uint, c_uint32, c_uint64, c_void_p)
from typing import Any

from ._load import load

SONAME = "libvsock-shm-guest.so.0"

lib = load(SONAME, "guest")
path: str = lib._name


# <vsock-shm/protocol.h>

class RunC(Structure):
    """struct vshm_run"""
    _fields_ = [
        ("addr", c_uint64),
        ("npages", c_uint32),
    ]


# <vsock-shm/guest.h>

class RegionStatsC(Structure):
    """struct vshm_region_stats"""
    _fields_ = [
        ("region", c_uint32),
        ("grant", c_uint64),
        ("size", c_size_t),
        ("page_size", c_uint32),
        ("nr_pages", c_uint32),
        ("nr_extents", c_uint32),
        ("nr_chunks", c_uint32),
        ("pin_ns", c_uint64),
        ("pagemap_ns", c_uint64),
        ("share_ns", c_uint64),
    ]


class GuestOptsC(Structure):
    """struct vshm_guest_opts"""
    _fields_ = [
        ("cid", c_uint),
        ("port", c_uint),
        ("timeout_ms", c_int),
        ("connect_wait_ms", c_int),
        ("flags", c_uint),
        ("reserved0", c_uint),
        ("features", c_uint64),
        ("reserved", c_uint64 * 6),
    ]


# int (*vshm_fill_fn)(void *ptr, size_t size, uint32_t region, void *arg)
FILL = CFUNCTYPE(c_int, c_void_p, c_size_t, c_uint32, c_void_p)


class ShareArgsC(Structure):
    """struct vshm_share_args"""
    _fields_ = [
        ("size", c_size_t),
        ("flags", c_uint),
        ("access", c_uint),
        ("addr", c_void_p),
        ("memfd", c_int),
        ("reserved0", c_uint),
        ("offset", c_uint64),
        ("cookie", c_uint64),
        ("fill", FILL),
        ("fill_arg", c_void_p),
        ("reserved", c_uint64 * 4),
    ]


class GuestEventC(Structure):
    """struct vshm_guest_event"""
    _fields_ = [
        ("type", c_uint),
        ("region", c_uint32),
        ("r", c_void_p),
        ("reason", c_uint32),
        ("bits", c_uint32),
        ("grant", c_uint64),
        ("reserved", c_uint64 * 2),
    ]


# void (*vshm_guest_event_fn)(struct vshm_guest *g,
#                             const struct vshm_guest_event *ev, void *arg)
EVENT = CFUNCTYPE(None, c_void_p, POINTER(GuestEventC), c_void_p)

# The mirrors test_layout.py checks, by C name.
STRUCTS: dict[str, type[Structure]] = {
    "vshm_run": RunC,
    "vshm_region_stats": RegionStatsC,
    "vshm_guest_opts": GuestOptsC,
    "vshm_share_args": ShareArgsC,
    "vshm_guest_event": GuestEventC,
}


def _proto(name: str, restype: Any, argtypes: list[Any]) -> Any:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


def cstr(p: bytes | None) -> str:
    return p.decode("utf-8", "replace") if p is not None else ""


# Library 0.1.
_proto("vshm_guest_connect", c_void_p, [c_uint, c_uint])
_proto("vshm_guest_set_timeout", c_int, [c_void_p, c_int])
_proto("vshm_guest_set_max_msg", c_int, [c_void_p, c_size_t])
_proto("vshm_guest_close", c_int, [c_void_p])
_proto("vshm_share", c_void_p, [c_void_p, c_size_t, c_uint, c_uint])
_proto("vshm_share_fill", c_void_p, [c_void_p, c_size_t, c_uint, c_uint,
                                     FILL, c_void_p])
_proto("vshm_free", c_int, [c_void_p])
_proto("vshm_region_ptr", c_void_p, [c_void_p])
_proto("vshm_region_size", c_size_t, [c_void_p])
_proto("vshm_region_id", c_uint32, [c_void_p])
_proto("vshm_region_stats", POINTER(RegionStatsC), [c_void_p])
_proto("vshm_region_extents", POINTER(RunC), [c_void_p, POINTER(c_size_t)])
_proto("vshm_region_gpas", c_int, [c_void_p, POINTER(c_uint64), c_size_t])
_proto("vshm_guest_last_error", c_int, [c_void_p, POINTER(c_uint32),
                                        POINTER(c_uint32)])
_proto("vshm_guest_last_failure", c_char_p, [c_void_p])
_proto("vshm_err_name", c_char_p, [c_int])

# Functions of 0.2: bound if the library has them.
_OPTIONAL_PROTOS: dict[str, tuple[Any, list[Any]]] = {
    "vshm_revoke_reason_name": (c_char_p, [c_uint]),
    "vshm_guest_connect_opts": (c_void_p, [POINTER(GuestOptsC)]),
    "vshm_guest_features": (c_uint64, [c_void_p]),
    "vshm_share_ex": (c_void_p, [c_void_p, POINTER(ShareArgsC)]),
    "vshm_share_buf": (c_void_p, [c_void_p, c_void_p, c_size_t, c_uint]),
    "vshm_share_memfd": (c_void_p, [c_void_p, c_int, c_uint64, c_size_t,
                                    c_uint]),
    "vshm_region_cookie": (c_uint64, [c_void_p]),
    "vshm_region_revoked": (c_uint, [c_void_p]),
    "vshm_region_notify": (c_int, [c_void_p, c_uint32]),
    "vshm_guest_set_event_cb": (c_int, [c_void_p, EVENT, c_void_p]),
    "vshm_guest_fd": (c_int, [c_void_p]),
    "vshm_guest_dispatch": (c_int, [c_void_p]),
    "vshm_guest_next_event": (c_int, [c_void_p, POINTER(GuestEventC)]),
}
_OPTIONAL: dict[str, Any] = {}
for _name, (_res, _args) in _OPTIONAL_PROTOS.items():
    if hasattr(lib, _name):
        _OPTIONAL[_name] = _proto(_name, _res, _args)

# The library has the 0.2 guest API (options, features, events, cookies,
# doorbells, shares of buffers and memfds).
HAS_0_2: bool = len(_OPTIONAL) == len(_OPTIONAL_PROTOS)


def optional(name: str) -> Any:
    """The library's function name, or None if this library lacks it."""
    return _OPTIONAL.get(name)


def need(name: str) -> Any:
    """The library's function name, or NotImplementedError."""
    fn = _OPTIONAL.get(name)
    if fn is None:
        raise NotImplementedError(f"{path} is older than 0.2: no {name}()")
    return fn
