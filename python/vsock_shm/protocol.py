# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The protocol's values, as <vsock-shm/protocol.h>, <vsock-shm/server.h> and
<vsock-shm/guest.h> state them: access flags, error codes, why a region
ended, why the host revoked a mapping, the features a connection
negotiates, a region's state, the guest's share flags and event types.

Nothing here blocks. The names of the C headers are kept (``VSHM_E_DENIED``,
``VSHM_ACCESS_WRITE``, ...) next to Python enums with short names
(``Err.DENIED``, ``Access.WRITE``). python/tests/test_layout.py checks every
value against the headers.
"""
from __future__ import annotations

import enum
from typing import Any, TypeVar


def _names_lib() -> Any:
    """The module of a loaded library with the name functions: the server's
    (_lib) if present, else the guest's (_glib). ImportError without both."""
    try:
        from . import _lib
        return _lib
    except ImportError as e:
        first = e
    try:
        from . import _glib
        return _glib
    except ImportError as e:
        raise ImportError(f"{first}; {e}") from None

VSHM_VERSION = 1
VSHM_MAX_MSG = 65536
VSHM_PAGE_SHIFT = 12
VSHM_PAGE_SIZE = 4096
VSHM_HUGE_PAGE_SIZE = 2097152
VSHM_NO_INDEX = 0xFFFFFFFF
VSHM_PRIVILEGED_PORTS = 1024

VSHM_ACCESS_READ = 0x1
VSHM_ACCESS_WRITE = 0x2
VSHM_ACCESS_MASK = 0x3

VSHM_FEAT_REVOKED = 0x1
VSHM_FEAT_COOKIE = 0x2
VSHM_FEAT_NOTIFY = 0x4
VSHM_FEAT_MASK = 0x7

# on_ended's answer in C; the bindings give it themselves (Region.hold()).
VSHM_HOLD = 1

VSHM_MAPPER_PATH = "/dev/vsock-shm-mapper"
VSHM_SERVER_DEFAULT_CONNS = 64
VSHM_SERVER_DEFAULT_MAX_SIZE = 4 << 30
VSHM_SERVER_DEFAULT_REGIONS = 4096
VSHM_SERVER_DEFAULT_SOCK_BUF = 256 << 10

# <vsock-shm/guest.h>
VSHM_GUEST_DEFAULT_TIMEOUT_MS = 30000
VSHM_SHARE_HUGE = 0x1
VSHM_SHARE_BUF = 0x2
VSHM_SHARE_MEMFD = 0x4
VSHM_GUEST_PLAIN = 0x1
VSHM_GUEST_EV_REVOKED = 1
VSHM_GUEST_EV_NOTIFY = 2


class Access(enum.IntFlag):
    """VSHM_ACCESS_*: what a guest grants to a region."""
    READ = VSHM_ACCESS_READ
    WRITE = VSHM_ACCESS_WRITE


class Feature(enum.IntFlag):
    """VSHM_FEAT_*: what a guest and the host agreed on (HELLO)."""
    REVOKED = VSHM_FEAT_REVOKED
    COOKIE = VSHM_FEAT_COOKIE
    NOTIFY = VSHM_FEAT_NOTIFY


class Err(enum.IntEnum):
    """enum vshm_err: the protocol's error codes (0 is success)."""
    OK = 0
    TRUNC = 1
    MAGIC = 2
    VERSION = 3
    TYPE = 4
    LEN = 5
    REGION = 6
    RESERVED = 7
    COUNT = 8
    ALIGN = 9
    RANGE = 10
    ORDER = 11
    DUP = 12
    ALLOC = 13
    NOTMAPPABLE = 14
    RDONLY = 15
    QUOTA = 16
    EXISTS = 17
    NOREGION = 18
    FRAG = 19
    NOPOLICY = 20
    PIN = 21
    NOMEM = 22
    BUSY = 23
    DENIED = 24
    INTERNAL = 25
    PORT = 26
    MEMLOCK = 27


VSHM_E_MAX = max(Err)


class EndReason(enum.IntEnum):
    """enum vshm_end_reason: why a region ended (Server's on_ended)."""
    FREED = 1       # the guest sent FREE
    CLOSED = 2      # the guest closed the connection without FREE
    RESET = 3       # the connection was reset or failed
    PROTOCOL = 4    # the host closed it after an ERROR for region 0
    SHUTDOWN = 5    # the server is shutting down (Server.close())


class RevokeReason(enum.IntEnum):
    """enum vshm_revoke_reason: why the host revoked a region's mapping."""
    FREED = 1
    CLOSED = 2
    DEVICE = 3
    MEMMAP = 4
    MIGRATION = 5
    REFUSED = 6


VSHM_REVOKE_MAX = max(RevokeReason)


class EventType(enum.IntEnum):
    """VSHM_GUEST_EV_*: what the host told a guest without being asked."""
    REVOKED = VSHM_GUEST_EV_REVOKED     # it revoked a region's mapping
    NOTIFY = VSHM_GUEST_EV_NOTIFY       # it rang a region's doorbell


class RegionState(enum.IntEnum):
    """enum vshm_sregion_state: where a region is in the protocol."""
    UPLOADING = 1   # ALLOC answered, chunks arriving
    MAPPED = 2      # mapped (on_mapped runs before the guest is told)
    FAILED = 3      # an ERROR answered one of its chunks


# The C names, generated so that they cannot drift from the enums above.
for _e, _prefix in ((Err, "VSHM_E_"), (EndReason, "VSHM_END_"),
                    (RevokeReason, "VSHM_REVOKE_"), (RegionState, "VSHM_SR_")):
    for _m in _e:
        globals()[_prefix + _m.name if _m else "VSHM_OK"] = int(_m)
del _e, _prefix, _m

E = TypeVar("E", bound=enum.IntEnum)


def as_enum(cls: type[E], value: int) -> E | int:
    """cls(value), or the plain int for a value this version does not know
    (a newer library may report reasons or codes added later)."""
    try:
        return cls(value)
    except ValueError:
        return value


def err_name(code: int) -> str:
    """The library's name of a protocol error code: "VSHM_E_DENIED", "VSHM_OK"
    for 0, "VSHM_E_UNKNOWN" for codes the library lacks (vshm_err_name())."""
    m = _names_lib()
    return m.cstr(m.lib.vshm_err_name(int(code)))


def end_reason_name(why: int) -> str:
    """"freed", "closed", "reset", "protocol", "shutdown"; "?" otherwise
    (vshm_end_reason_name(): needs the server library)."""
    from . import _lib
    return _lib.cstr(_lib.lib.vshm_end_reason_name(int(why)))


def revoke_reason_name(reason: int) -> str:
    """"freed", "closed", "device", "memmap", "migration", "refused";
    "unknown" otherwise (vshm_revoke_reason_name(), library 0.2 and later)."""
    m = _names_lib()
    fn = m.optional("vshm_revoke_reason_name")
    if fn is None:
        raise NotImplementedError(f"{m.path} is older than 0.2: "
                                  "no vshm_revoke_reason_name()")
    if not 0 <= int(reason) <= 0xFFFFFFFF:
        return "unknown"
    return m.cstr(fn(int(reason)))
