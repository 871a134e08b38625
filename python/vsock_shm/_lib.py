# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Loading libvsock-shm-server.so.0 and the ctypes mirrors of the public
structures of <vsock-shm/server.h>. Internal: use vsock_shm.Server.

The library is looked for as _load.py says ($VSOCK_SHM_LIBDIR, the build
tree, the system); importing this module raises ImportError without it.

Each mirror below must match the C structure field for field:
python/tests/test_layout.py compiles a program against the headers and
compares sizeof/offsetof of every field listed here. A field added in C
gets its line here, in the same place.
"""
from __future__ import annotations

import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_int, c_uint,
                    c_uint32, c_uint64, c_void_p)
from typing import Any

from ._load import load

SONAME = "libvsock-shm-server.so.0"


lib = load(SONAME, "server")
path: str = lib._name


# <vsock-shm/server.h>

class MapInfoC(Structure):
    """struct vshm_map_info"""
    _fields_ = [
        ("size", c_uint64),
        ("nr_pages", c_uint32),
        ("access", c_uint32),
        ("pin_ns", c_uint64),
        ("nr_runs", c_uint32),
        ("map_ns", c_uint64),
    ]


# Fields of struct vshm_session_region up to 0.1, then those of 0.2. A 0.1
# library's structure ends before the 0.2 fields: read them only if
# HAS_0_2 (the library exports the functions of 0.2).
_REGION_0_1 = [
    ("id", c_uint32),
    ("peer_cid", c_uint32),
    ("state", c_int),           # enum vshm_sregion_state
    ("size", c_uint64),
    ("page_size", c_uint32),
    ("access", c_uint32),
    ("nr_pages", c_uint32),
    ("pages_received", c_uint32),
    ("chunks", c_uint32),
    ("extents", c_uint32),
    ("grant", c_uint64),
    ("ptr", c_void_p),
    ("addr", c_void_p),
    ("info", MapInfoC),
]
_REGION_0_2 = [
    ("cookie", c_uint64),
    ("conn_id", c_uint64),
    ("peer_port", c_uint32),
    ("revoked", c_uint32),
]


class SessionRegionC(Structure):
    """struct vshm_session_region"""
    _fields_ = _REGION_0_1 + _REGION_0_2


class ConnInfoC(Structure):
    """struct vshm_conn_info (0.2)"""
    _fields_ = [
        ("id", c_uint64),
        ("peer_cid", c_uint32),
        ("peer_port", c_uint32),
        ("features", c_uint64),
    ]


RegionP = POINTER(SessionRegionC)
ON_MAPPED = CFUNCTYPE(c_int, c_void_p, RegionP)
ON_ENDED = CFUNCTYPE(c_int, c_void_p, RegionP, c_int)
ON_FREED = CFUNCTYPE(None, c_void_p, RegionP)
LOG = CFUNCTYPE(None, c_void_p, c_char_p)
ON_REVOKED = CFUNCTYPE(None, c_void_p, RegionP, c_int)
ON_NOTIFY = CFUNCTYPE(None, c_void_p, RegionP, c_uint32)
ON_CONNECT = CFUNCTYPE(c_int, c_void_p, POINTER(ConnInfoC))
ON_DISCONNECT = CFUNCTYPE(None, c_void_p, POINTER(ConnInfoC), c_int)


class ServerCfgC(Structure):
    """struct vshm_server_cfg. The 0.2 callbacks sit in unions with
    uint64_t reserved_N in C: the same size and place as a pointer here."""
    _fields_ = [
        ("port", c_uint32),
        ("max_conns", c_uint32),
        ("max_region_size", c_uint64),
        ("max_regions", c_uint32),
        ("sock_buf", c_uint64),
        ("mapper_path", c_char_p),
        ("on_mapped", ON_MAPPED),
        ("on_ended", ON_ENDED),
        ("on_freed", ON_FREED),
        ("log", LOG),
        ("arg", c_void_p),
        ("on_revoked", ON_REVOKED),         # 0.2
        ("on_notify", ON_NOTIFY),           # 0.2
        ("on_connect", ON_CONNECT),         # 0.2
        ("on_disconnect", ON_DISCONNECT),   # 0.2
        ("reserved", c_uint64 * 4),
    ]


class ServerStatsC(Structure):
    """struct vshm_server_stats"""
    _fields_ = [
        ("conns_accepted", c_uint64),
        ("conns_refused", c_uint64),
        ("conns_open", c_uint32),
        ("regions_mapped", c_uint64),
        ("regions_freed", c_uint64),
        ("regions_dropped", c_uint64),
        ("errors_sent", c_uint64),
        ("unmap_errors", c_uint64),
        ("regions_held", c_uint32),
        ("revocations", c_uint64),          # 0.2
        ("revoked_sent", c_uint64),         # 0.2
        ("notifies_in", c_uint64),          # 0.2
        ("notifies_out", c_uint64),         # 0.2
        ("notifies_dropped", c_uint64),     # 0.2
        ("reserved", c_uint64 * 3),
    ]


# The mirrors test_layout.py checks, by C name.
STRUCTS: dict[str, type[Structure]] = {
    "vshm_map_info": MapInfoC,
    "vshm_session_region": SessionRegionC,
    "vshm_conn_info": ConnInfoC,
    "vshm_server_cfg": ServerCfgC,
    "vshm_server_stats": ServerStatsC,
}


def _proto(name: str, restype: Any, argtypes: list[Any]) -> Any:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


def optional(name: str) -> Any:
    """The library's function name, or None if this library lacks it."""
    return _OPTIONAL.get(name)


def cstr(p: bytes | None) -> str:
    return p.decode("utf-8", "replace") if p is not None else ""


_proto("vshm_server_new", c_void_p, [POINTER(ServerCfgC)])
_proto("vshm_server_poll", c_int, [c_void_p, c_int])
_proto("vshm_server_run", c_int, [c_void_p])
_proto("vshm_server_stop", None, [c_void_p])
_proto("vshm_server_get_stats", None, [c_void_p, POINTER(ServerStatsC)])
_proto("vshm_server_release", c_int, [c_void_p, c_void_p])
_proto("vshm_server_free", None, [c_void_p])
_proto("vshm_end_reason_name", c_char_p, [c_int])
_proto("vshm_err_name", c_char_p, [c_int])

# Functions of later versions: bound if the library has them.
_OPTIONAL_PROTOS: dict[str, tuple[Any, list[Any]]] = {
    "vshm_revoke_reason_name": (c_char_p, [c_uint]),
    "vshm_server_fd": (c_int, [c_void_p]),
    "vshm_server_dispatch": (c_int, [c_void_p]),
    "vshm_server_notify": (c_int, [c_void_p, c_uint64, c_uint32, c_uint32]),
}
_OPTIONAL: dict[str, Any] = {}
for _name, (_res, _args) in _OPTIONAL_PROTOS.items():
    if hasattr(lib, _name):
        _OPTIONAL[_name] = _proto(_name, _res, _args)

# The library has the 0.2 server API (events, who is who, doorbells), and
# so the 0.2 fields of its structures.
HAS_0_2: bool = all(n in _OPTIONAL for n in
                    ("vshm_server_fd", "vshm_server_dispatch",
                     "vshm_server_notify"))


def errno_error(err: int, what: str) -> OSError:
    """OSError for a positive errno, naming what failed."""
    return OSError(err, f"{what}: {os.strerror(err)}")
