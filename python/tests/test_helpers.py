# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
"""The names the library gives to codes and reasons, through the bindings.

    cd python && /usr/bin/python3 -B -m unittest tests.test_helpers
"""
from __future__ import annotations

import unittest

from vsock_shm import (EndReason, Err, RevokeReason, end_reason_name,
                       err_name, protocol, revoke_reason_name)


class Names(unittest.TestCase):
    def test_err_name_of_every_code(self) -> None:
        for e in Err:
            with self.subTest(code=int(e)):
                self.assertEqual(err_name(e), "VSHM_OK" if e == 0 else "VSHM_E_" + e.name)

    def test_err_name_of_unknown_codes(self) -> None:
        for code in (protocol.VSHM_E_MAX + 1, 1000, -1, -25):
            with self.subTest(code=code):
                self.assertEqual(err_name(code), "VSHM_E_UNKNOWN")

    def test_end_reason_names(self) -> None:
        for why in EndReason:
            with self.subTest(why=why):
                self.assertEqual(end_reason_name(why), why.name.lower())
        for why in (0, 6, -1):
            self.assertEqual(end_reason_name(why), "?")

    def test_revoke_reason_names(self) -> None:
        for why in RevokeReason:
            with self.subTest(why=why):
                self.assertEqual(revoke_reason_name(why), why.name.lower())
        for why in (0, protocol.VSHM_REVOKE_MAX + 1, 2**32 - 1, -1, 2**40):
            with self.subTest(why=why):
                self.assertEqual(revoke_reason_name(why), "unknown")

    def test_as_enum_keeps_unknown_values(self) -> None:
        self.assertIs(protocol.as_enum(EndReason, 2), EndReason.CLOSED)
        v = protocol.as_enum(RevokeReason, 42)
        self.assertEqual(v, 42)
        self.assertNotIsInstance(v, RevokeReason)

    def test_c_names_follow_the_enums(self) -> None:
        self.assertEqual(protocol.VSHM_E_DENIED, 24)
        self.assertEqual(protocol.VSHM_OK, 0)
        self.assertEqual(protocol.VSHM_END_SHUTDOWN, 5)
        self.assertEqual(protocol.VSHM_REVOKE_MIGRATION, 5)
        self.assertEqual(protocol.VSHM_SR_FAILED, 3)
        self.assertFalse(hasattr(protocol, "VSHM_E_OK"))


if __name__ == "__main__":
    unittest.main()
