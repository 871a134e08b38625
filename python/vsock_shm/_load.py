# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Finding and loading one of the project's shared libraries
(libvsock-shm-server.so.0, libvsock-shm-guest.so.0). Internal.

A library is looked for, in this order:
  1. $VSOCK_SHM_LIBDIR/SONAME (only there, if set);
  2. the build tree this package sits in: <top>/build/userspace/;
  3. the system's dynamic linker paths (the installed library).
"""
from __future__ import annotations

import ctypes
import os
from pathlib import Path


def candidates(soname: str) -> list[str]:
    libdir = os.environ.get("VSOCK_SHM_LIBDIR")
    if libdir:
        return [os.path.join(libdir, soname)]
    tree = Path(__file__).resolve().parents[2] / "build" / "userspace" / soname
    return ([str(tree)] if tree.exists() else []) + [soname]


def load(soname: str, what: str) -> ctypes.CDLL:
    """The library soname, or ImportError naming every place tried."""
    tried = []
    for path in candidates(soname):
        try:
            return ctypes.CDLL(path, use_errno=True)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError(f"vsock_shm: cannot load the {what} library ("
                      + "; ".join(tried) + "); set VSOCK_SHM_LIBDIR to the "
                      "directory holding " + soname)
