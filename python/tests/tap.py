#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""Runs the bindings' unit tests (python/tests) and prints TAP for "make
test": one line per test, "ok N python/unit: NAME", "not ok ..." with the
traceback as comments, "ok N ... # SKIP why" for a test skipped. Exit
status 0 only if every test ran and passed (a skip fails it too, with
--no-skip).

    /usr/bin/python3 -B python/tests/tap.py [--no-skip]
"""
from __future__ import annotations

import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent


class Tap(unittest.TestResult):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.bad = 0
        self.skips = 0
        self.sub_failed: set[str] = set()

    def line(self, ok: bool, test: unittest.TestCase, extra: str = "",
             detail: str = "") -> None:
        self.n += 1
        name = test.id().removeprefix("tests.")
        print(f"{'ok' if ok else 'not ok'} {self.n} python/unit: {name}{extra}")
        for ln in detail.rstrip().splitlines():
            print(f"# {ln}")
        sys.stdout.flush()

    def addSuccess(self, test: unittest.TestCase) -> None:
        if test.id() not in self.sub_failed:
            self.line(True, test)

    def addFailure(self, test: unittest.TestCase, err: object) -> None:
        self.bad += 1
        self.line(False, test, detail=self._exc_info_to_string(err, test))

    addError = addFailure

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase,
                   err: object) -> None:
        if err is not None:
            self.bad += 1
            self.sub_failed.add(test.id())
            self.line(False, subtest, detail=self._exc_info_to_string(err, test))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        self.skips += 1
        self.line(True, test, f" # SKIP {reason}")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        self.bad += 1
        self.line(False, test, " # unexpected success")


def main() -> int:
    sys.path.insert(0, str(HERE.parent))
    suite = unittest.defaultTestLoader.discover(str(HERE), top_level_dir=str(HERE.parent))
    res = Tap()
    suite.run(res)
    print(f"1..{res.n}")
    if res.n == 0:
        return 1
    return 1 if res.bad or ("--no-skip" in sys.argv and res.skips) else 0


if __name__ == "__main__":
    sys.exit(main())
