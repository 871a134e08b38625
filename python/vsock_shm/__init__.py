# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Python bindings of the vsock-shm host server library
(libvsock-shm-server.so.0, <vsock-shm/server.h>): see docs/python.md.

    import vsock_shm

    def on_mapped(region):
        data = bytes(region.buffer)     # the guest's memory, copied

    with vsock_shm.Server(7000, on_mapped=on_mapped) as srv:
        srv.run()                       # until srv.stop()

The guest library is not bound (lab guests have no Python).
"""
from . import protocol
from ._lib import HAS_0_2, path as library_path
from .protocol import (Access, EndReason, Err, Feature, RegionState,
                       RevokeReason, end_reason_name, err_name,
                       revoke_reason_name)
from .server import Connection, MapInfo, Region, Server, ServerStats

__all__ = ["Server", "Region", "MapInfo", "Connection", "ServerStats",
           "Access", "EndReason", "Err", "Feature", "RegionState",
           "RevokeReason", "err_name", "end_reason_name",
           "revoke_reason_name", "protocol", "library_path", "HAS_0_2"]
