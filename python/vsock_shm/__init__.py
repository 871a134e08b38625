# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Python bindings of the vsock-shm libraries (docs/python.md): the host
server library (libvsock-shm-server.so.0, <vsock-shm/server.h>) and the
guest library (libvsock-shm-guest.so.0, <vsock-shm/guest.h>).

    import vsock_shm

    def on_mapped(region):                  # on the host
        data = bytes(region.buffer)         # the guest's memory, copied

    with vsock_shm.Server(7000, on_mapped=on_mapped) as srv:
        srv.run()                           # until srv.stop()

    with vsock_shm.Guest(7000) as g:        # in a guest
        with g.share(1 << 20) as r:
            r.buffer[:5] = b"hello"

Each half needs its own library only: on a host without the guest library
(or a guest without the server library) `import vsock_shm` works, and using
the missing half raises ImportError saying why (SERVER_ERROR, GUEST_ERROR).
"""
from typing import Any, Optional

from . import protocol
from .protocol import (Access, EndReason, Err, EventType, Feature,
                       RegionState, RevokeReason, end_reason_name, err_name,
                       revoke_reason_name)

_SERVER = ["Server", "Region", "MapInfo", "Connection", "ServerStats",
           "HAS_0_2", "library_path"]
_GUEST = ["Guest", "GuestRegion", "GuestEvent", "RegionStats",
          "GUEST_HAS_0_2", "guest_library_path"]

SERVER_ERROR: Optional[ImportError] = None
GUEST_ERROR: Optional[ImportError] = None
try:
    from ._lib import HAS_0_2, path as library_path
    from .server import Connection, MapInfo, Region, Server, ServerStats
except ImportError as e:
    SERVER_ERROR = e
try:
    from ._glib import HAS_0_2 as GUEST_HAS_0_2, path as guest_library_path
    from .guest import Guest, GuestEvent, GuestRegion, RegionStats
except ImportError as e:
    GUEST_ERROR = e


def __getattr__(name: str) -> Any:
    # The half whose library is missing: say so when it is used.
    if name in _SERVER and SERVER_ERROR is not None:
        raise ImportError(f"vsock_shm.{name}: {SERVER_ERROR}")
    if name in _GUEST and GUEST_ERROR is not None:
        raise ImportError(f"vsock_shm.{name}: {GUEST_ERROR}")
    raise AttributeError(f"module 'vsock_shm' has no attribute {name!r}")


__all__ = [
    "Server", "Region", "MapInfo", "Connection", "ServerStats", "HAS_0_2",
    "library_path",
    "Guest", "GuestRegion", "GuestEvent", "RegionStats", "GUEST_HAS_0_2",
    "guest_library_path",
    "Access", "EndReason", "Err", "EventType", "Feature", "RegionState",
    "RevokeReason", "err_name", "end_reason_name", "revoke_reason_name",
    "protocol", "SERVER_ERROR", "GUEST_ERROR"]
