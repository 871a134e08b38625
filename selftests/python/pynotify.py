#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The host of pyguest.py's doorbell cases (selftests/python/run.sh): a
vsock_shm.Server that accepts every region, rings its doorbell once it is
mapped (bits 0x5, after the guest was told MAPPED: from the loop, not from
on_mapped) and answers each doorbell of the guest with the bits shifted
left by 4. Ends once REGIONS regions ended (or after --timeout), checking
that each came with the cookie the guest gave (7 and 8), that the guest's
doorbell (0x3) arrived once, and that every region ended FREED.

Writes TAP to --tap FILE (ok N NAME); logs on stdout; exit status 0 when
every check passed.

    pynotify.py --port P --tap FILE [--regions 2] [--timeout SECONDS]
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import vsock_shm
from vsock_shm import EndReason


class Host:
    def __init__(self, tap: str) -> None:
        self.tap = open(tap, "w", buffering=1)
        self.n = self.failed = 0
        self.to_ring: list[vsock_shm.Region] = []
        self.cookies: list[int] = []
        self.notifies: list[tuple[int, int]] = []
        self.ended: list[Any] = []
        self.answers: list[tuple[vsock_shm.Region, int]] = []

    def check(self, ok: bool, name: str, diag: str = "") -> None:
        self.n += 1
        if not ok:
            self.failed += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} {name}", file=self.tap)
        if diag and not ok:
            print(f"# {diag}", file=self.tap)
        print(f"pynotify: {'ok' if ok else 'NOT OK'}: {name} {diag}", flush=True)

    def on_mapped(self, r: vsock_shm.Region) -> None:
        print(f"pynotify: mapped {r}", flush=True)
        self.cookies.append(r.cookie or 0)
        self.to_ring.append(r)
        return None

    def on_notify(self, r: vsock_shm.Region, bits: int) -> None:
        print(f"pynotify: notify region {r.id} bits {bits:#x}", flush=True)
        self.notifies.append((r.cookie or 0, bits))
        self.answers.append((r, bits << 4))

    def on_ended(self, r: vsock_shm.Region, why: Any) -> None:
        print(f"pynotify: ended {r} {getattr(why, 'name', why)}", flush=True)
        self.ended.append(why)

    def run(self, port: int, regions: int, timeout: float) -> None:
        self.srv = srv = vsock_shm.Server(
            port, on_mapped=self.on_mapped, on_notify=self.on_notify,
            on_ended=self.on_ended,
            log=lambda line: print(f"pynotify: library: {line}", flush=True))
        print("pynotify: ready", flush=True)
        deadline = time.monotonic() + timeout
        while len(self.ended) < regions and time.monotonic() < deadline:
            srv.poll(0.2)
            # MAPPED went out when on_mapped returned: ring now.
            rings = [(r, 0x5) for r in self.to_ring] + self.answers
            self.to_ring.clear()
            self.answers.clear()
            for r, bits in rings:
                try:
                    srv.notify(r, bits)
                except OSError as e:
                    self.check(False, f"region {r.id}: doorbell {bits:#x} rung", str(e))
        st = srv.stats()
        srv.close()
        self.check(len(self.ended) == regions, f"{regions} regions ended in time",
                   f"{len(self.ended)} ended")
        self.check(sorted(self.cookies) == [7, 8], "the guest's cookies 7 and 8 seen",
                   f"{self.cookies}")
        self.check(self.notifies == [(8, 0x3)], "the guest's doorbell 0x3 once, region of cookie 8",
                   f"{self.notifies}")
        self.check(all(w == EndReason.FREED for w in self.ended), "every region ended FREED",
                   f"{self.ended}")
        self.check(st.notifies_in == 1 and st.notifies_out == regions + 1,
                   "counters: 1 doorbell in, one per region + 1 out",
                   f"{st}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--regions", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    h = Host(a.tap)
    try:
        h.run(a.port, a.regions, a.timeout)
    except Exception as e:
        h.check(False, "the host ran without an unexpected exception", repr(e))
    print(f"1..{h.n}", file=h.tap)
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
